/**
 * An agent killed with SIGKILL runs no shutdown code, yet its tools must not keep writing:
 * a real conductor cleans a node with the shipped erase on a throttled scratch loop device,
 * the agent process is killed (only it, not its process group) while `shred` writes, and
 * no process may be left writing the disk. Then a process the agent did not start holds the
 * disk open for writing, and a fresh agent's erase refuses the disk, naming that process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { enrollHostNode, startConductor, waitFor, waitForState, type RunningConductor } from '../conductor/helpers.js';
import { AgentProcess } from '../interop/harness/agent-process.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { canThrottleWrites, throttleWrites, type WriteThrottle } from '../helpers/throttled-device.js';

let running: RunningConductor | undefined;
let scratch: ScratchDevices | undefined;
let throttle: WriteThrottle | undefined;
const agents: AgentProcess[] = [];
const strangers: ChildProcess[] = [];

afterEach(async () => {
  for (const stranger of strangers.splice(0)) stranger.kill('SIGKILL');
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await running?.close();
  running = undefined;
  throttle?.release();
  throttle = undefined;
  // Anything still writing the device would keep it busy: give a killed tool time to go.
  await sleep(100);
  scratch?.cleanup();
  scratch = undefined;
});

/** The erase tools (shred, dd) running on `device`, as "pid command line". */
function eraseToolsOn(device: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!['shred', 'dd'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      if (argv.some((arg) => arg === device || arg === `of=${device}`)) found.push(`${pid} ${argv.join(' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function cleanWithErase(disk: string) {
  running = await startConductor();
  const { conductor } = running;
  const node = await enrollHostNode(conductor);
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'deploy', step: 'erase_devices' }] });
  const agent = await AgentProcess.start({ apiUrl: running.url, allowDevices: [disk] });
  agents.push(agent);
  return { conductor, node, agent };
}

describe.skipIf(!canUseLoopDevices() || !canThrottleWrites())('tools die with the agent', () => {
  it('leaves no writer behind when the agent is killed with SIGKILL mid-erase', async () => {
    scratch = new ScratchDevices();
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 1 });
    // 32 MiB at 4 MiB/s: the random pass alone takes about eight seconds.
    throttle = throttleWrites(disk, 4 * 1024 * 1024);
    const { agent } = await cleanWithErase(disk.path);
    await waitFor('the erase to write', () => eraseToolsOn(disk.path).length > 0, 45_000);

    process.kill(agent.child.pid!, 'SIGKILL');
    await agent.exited;
    const deadline = Date.now() + 2_000;
    while (eraseToolsOn(disk.path).length > 0 && Date.now() < deadline) await sleep(50);
    expect(eraseToolsOn(disk.path)).toEqual([]);
  });

  it('refuses to erase a disk another process holds open for writing, and names it', async () => {
    scratch = new ScratchDevices();
    const disk = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const before = createHash('sha256').update(readFileSync(disk.path)).digest('hex');
    // A writer the agent did not start: the disk open for writing, idle.
    const stranger = spawn('sh', ['-c', `exec 3>>${disk.path}; exec sleep 60`], { stdio: 'ignore' });
    strangers.push(stranger);
    await waitFor('the stranger to open the disk', () =>
      readdirSync(`/proc/${stranger.pid}/fd`).some((fd) => {
        try {
          return readFileSync(`/proc/${stranger.pid}/cmdline`, 'utf8').startsWith('sleep') && fd === '3';
        } catch {
          return false;
        }
      }),
    );

    const { conductor, node } = await cleanWithErase(disk.path);
    const failed = await waitForState(conductor, node.uuid, [states.CLEANFAIL, states.MANAGEABLE], 45_000);
    expect(failed.provisionState).toBe(states.CLEANFAIL);
    expect(failed.lastError).toMatch(new RegExp(`another process has it open for writing: pid ${stranger.pid} \\(sleep 60\\)`));
    expect(createHash('sha256').update(readFileSync(disk.path)).digest('hex')).toBe(before);
  });
});
