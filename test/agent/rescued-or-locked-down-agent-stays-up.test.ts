/**
 * An agent that stopped serving for good (rescue.finalize_rescue, system.lockdown, a lookup
 * that gave no token) stays up, silent, as IPA loops forever "to avoid a service restart": in
 * the ramdisk init starts an agent that exits again, which on a rescued machine would reload
 * every hardware manager on the tenant's machine and, after a lockdown, look the node up with
 * its interfaces down. An
 * agent that starts and finds the rescue marker stays up as well, without loading managers
 * or looking anything up. Real agent processes, simulated power (nothing of this machine's
 * network or /etc is touched).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';
import { REPO, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';
import { freePort } from '../interop/harness/free-port.js';

/** Longer than run-agent's first restart delay (2 s) and than an idle process takes to exit. */
const STAYS_UP_MS = 3_000;

interface AgentChild {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<unknown>;
}

const children: AgentChild[] = [];
const dirs: string[] = [];
let conductor: FakeConductor | undefined;

afterEach(async () => {
  await conductor?.close();
  conductor = undefined;
  for (const { child, exited } of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-stays-up-'));
  dirs.push(dir);
  return dir;
}

async function spawnAgent(
  dir: string,
  hostRoot: string,
  options: { standalone?: boolean; extra?: string[] } = {},
): Promise<AgentChild> {
  const port = await freePort();
  const args = standaloneAgentArgs({
    dir,
    port,
    logLevel: 'info',
    standalone: options.standalone ?? true,
    extra: ['--no-shipped-managers', '--hardware-manager-path', FIXTURE_MANAGERS, ...(options.extra ?? [])],
    config: { simulated_host_root: hostRoot, discover_installed_plugins: false },
  });
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += String(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => (output += String(chunk)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const agent = { child, port, output: () => output, exited };
  children.push(agent);
  return agent;
}

const answers = (port: number) =>
  fetch(`http://127.0.0.1:${port}/v1/status`).then(
    (r) => r.ok,
    () => false,
  );

async function waitUntil(what: string, agent: AgentChild, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (!isAlive(agent)) throw new Error(`the agent exited while waiting for ${what}:\n${agent.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${agent.output()}`);
    await sleep(50);
  }
}

function isAlive(agent: AgentChild): boolean {
  return agent.child.exitCode === null && agent.child.signalCode === null;
}

async function post(port: number, name: string): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/commands/?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, params: name === 'rescue.finalize_rescue' ? { rescue_password: 'pw' } : {} }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** Runs `command` on a fresh standalone agent; resolves once the API has closed. */
async function agentThatStopped(command: string, hostRoot: string): Promise<AgentChild> {
  const agent = await spawnAgent(scratchDir(), hostRoot);
  await waitUntil('the API', agent, () => answers(agent.port));
  expect((await post(agent.port, command)).command_status).toBe('SUCCEEDED');
  await waitUntil('the API to close', agent, async () => !(await answers(agent.port)));
  return agent;
}

describe('an agent that stopped serving for good', () => {
  it('stays up after rescue.finalize_rescue, silent, and exits on SIGTERM', async () => {
    const hostRoot = scratchDir();
    const agent = await agentThatStopped('rescue.finalize_rescue', hostRoot);
    expect(existsSync(join(hostRoot, 'etc/.rescued'))).toBe(true);
    await sleep(STAYS_UP_MS);
    expect(isAlive(agent), agent.output()).toBe(true);
    expect(await answers(agent.port)).toBe(false);
    expect(agent.output()).toMatch(/looping forever to avoid a service restart/);

    agent.child.kill('SIGTERM');
    await agent.exited;
    expect(agent.child.exitCode).toBe(0);
  });

  it('stays up after system.lockdown', async () => {
    const agent = await agentThatStopped('system.lockdown', scratchDir());
    await sleep(STAYS_UP_MS);
    expect(isAlive(agent), agent.output()).toBe(true);
    expect(agent.output()).toMatch(/looping forever to avoid a service restart/);
  });

  it('started on a rescued machine, stays up without loading managers, looking up or listening', async () => {
    const hostRoot = scratchDir();
    mkdirSync(join(hostRoot, 'etc'));
    writeFileSync(join(hostRoot, 'etc/.rescued'), '');
    // A conductor URL nothing answers on: a lookup would be logged as failing.
    const conductorPort = await freePort();
    const agent = await spawnAgent(scratchDir(), hostRoot, {
      standalone: false,
      extra: ['--api-url', `http://127.0.0.1:${conductorPort}`],
    });
    await waitUntil('the marker to be found', agent, () => /rescue state marker/.test(agent.output()));
    await sleep(STAYS_UP_MS);
    expect(isAlive(agent), agent.output()).toBe(true);
    expect(await answers(agent.port)).toBe(false);
    expect(agent.output()).not.toMatch(/hardware managers active|lookup/i);
  });

  it('stays up when the lookup gave no token ("******" with none held), as IPA after that fatal lookup', async () => {
    const macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    // Another agent already took this node's token.
    conductor.addNode(macs, { token: 'taken-by-an-earlier-lookup-0123456789abcdef' });
    const agent = await spawnAgent(scratchDir(), scratchDir(), {
      standalone: false,
      extra: ['--api-url', conductor.url, '--no-auto-tls'],
    });
    await waitUntil('the lookup', agent, () => conductor!.lookups.some((l) => l.status === 200));
    await waitUntil('the agent to stop', agent, () => /looping forever to avoid a service restart/.test(agent.output()));
    await sleep(STAYS_UP_MS);
    expect(isAlive(agent), agent.output()).toBe(true);
    expect(conductor.lookups.filter((l) => l.status === 200)).toHaveLength(1);
    expect(await answers(agent.port)).toBe(false);
  });
});
