// The burn-in steps driven as Ironic drives them (clean.execute_clean_step, then polling),
// with the real stress-ng and fio, short durations, on loop devices made by the test.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import type { AgentTestClient } from '../../helpers/agent.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';
import { descendants, runStep, startBurninAgent, startStep, waitUntil } from './helpers.js';

const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;
let client: AgentTestClient;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  scratch.cleanup();
});
afterAll(() => scratch.cleanup());

describe('step listing', () => {
  beforeAll(async () => ({ agent, client } = await startBurninAgent()));

  it("offers IPA's burn-in steps (priority 0, deploy, abortable) and burnin_disk only for cleaning", async () => {
    const node = { uuid: 'n1', properties: {}, instance_info: {}, driver_internal_info: {} };
    const clean = await client.post('clean.get_clean_steps', { node, ports: [] }, true);
    const steps = Object.values(clean.body.command_result.clean_steps as Record<string, any[]>).flat();
    for (const name of ['burnin_cpu', 'burnin_memory', 'burnin_disk', 'burnin_network', 'check_disk_health']) {
      expect(steps.find((s) => s.step === name)).toMatchObject({
        priority: 0,
        interface: 'deploy',
        abortable: true,
        reboot_requested: false,
      });
    }
    expect(steps.find((s) => s.step === 'burnin_cpu').argsinfo.agent_burnin_cpu_timeout).toMatchObject({ required: false });
    const service = await client.post('service.get_service_steps', { node, ports: [] }, true);
    const serviceSteps = Object.values(service.body.command_result.service_steps as Record<string, any[]>).flat();
    expect(serviceSteps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['burnin_cpu', 'burnin_memory', 'burnin_network', 'check_disk_health']),
    );
    expect(serviceSteps.find((s) => s.step === 'burnin_disk')).toBeUndefined();
  });
});

describe('stress-ng steps', () => {
  it('burnin_cpu runs for the timeout from driver_info, shows progress and reports bogo-ops', async () => {
    ({ agent, client } = await startBurninAgent());
    const { final, snapshots } = await runStep(
      client,
      'burnin_cpu',
      {},
      { agent_burnin_cpu_cpu: '1', agent_burnin_cpu_timeout: '2' },
    );
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report).toMatchObject({ step: 'burnin_cpu', tool: 'stress-ng', planned_seconds: 2, passed: true });
    expect(report.commands[0]).toBe('stress-ng --cpu 1 --timeout 2 --metrics-brief');
    expect(report.parts[0]).toMatchObject({ name: 'cpu', passed: true, workers: 1 });
    expect(report.parts[0].bogo_ops).toBeGreaterThan(0);
    expect(report.parts[0].bogo_ops_per_second).toBeGreaterThan(0);
    expect(report.duration_seconds).toBeGreaterThanOrEqual(2);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.at(-1)).toMatchObject({ step: 'burnin_cpu', phase: 'stress-ng cpu', planned_seconds: 2 });
    expect(snapshots.at(-1).elapsed_seconds).toBeGreaterThanOrEqual(0);
  });

  it('a step argument wins over driver_info, and a missed threshold fails naming figure and threshold', async () => {
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(
      client,
      'burnin_cpu',
      { agent_burnin_cpu_timeout: 1, agent_burnin_cpu_min_bogo_ops_per_second: 1e12 },
      { agent_burnin_cpu_cpu: 1, agent_burnin_cpu_timeout: 3600 },
    );
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('CleaningError');
    expect(final.command_error.details).toMatch(
      /^burnin_cpu failed: cpu: bogo-ops per second [\d.]+ is below agent_burnin_cpu_min_bogo_ops_per_second 1000000000000$/,
    );
  });

  it('burnin_memory verifies a small amount of memory', async () => {
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(client, 'burnin_memory', {
      agent_burnin_vm_vm: 1,
      'agent_burnin_vm_vm-bytes': '32M',
      agent_burnin_vm_timeout: 2,
    });
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report.commands[0]).toBe('stress-ng --vm 1 --timeout 2 --vm-bytes 32M --verify --metrics-brief');
    expect(report.parts[0]).toMatchObject({ name: 'vm', passed: true });
    expect(report.parts[0].bogo_ops).toBeGreaterThan(0);
  });

  it('a driver_info knob of the wrong type is refused naming it', async () => {
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(client, 'burnin_cpu', {}, { agent_burnin_cpu_timeout: 'soon' });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('InvalidCommandParamsError');
    expect(final.command_error.details).toMatch(/^driver_info\.agent_burnin_cpu_timeout /);
  });

  it('aborting a running burn-in (the node restarted by the conductor) stops stress-ng and its workers within seconds', async () => {
    ({ agent, client } = await startBurninAgent());
    // 35 days: longer than any timer Node can set, which must not kill the run at once.
    await startStep(client, 'burnin_cpu', { agent_burnin_cpu_cpu: 2, agent_burnin_cpu_timeout: 3_000_000 });
    await waitUntil(() => descendants(['stress-ng']).length >= 3, 10_000, 'stress-ng and its two workers');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(descendants(['stress-ng']).length).toBeGreaterThanOrEqual(3);
    // Ironic aborts an abortable step by powering the node off; the agent hears of it as a
    // new lookup token and resets: the running command ends and its tools exit first.
    const started = Date.now();
    await agent.runner.reset('test: the conductor restarted this node');
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(descendants(['stress-ng'])).toEqual([]);
  });
});

describe.runIf(canUseLoopDevices())('burnin_disk on loop devices', () => {
  it('writes and verifies every allow-listed disk in parallel, per-disk throughput live and in the report', async () => {
    const a = scratch.create({ sizeMiB: 64 });
    const b = scratch.create({ sizeMiB: 64 });
    const other = scratch.create({ sizeMiB: 16, randomMiB: 16 });
    const before = readFileSync(other.file);
    ({ agent, client } = await startBurninAgent([a.path, b.path]));
    const { final, snapshots } = await runStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 3 });

    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report).toMatchObject({ step: 'burnin_disk', tool: 'fio', planned_seconds: 3, passed: true });
    expect(report.commands[0]).toContain(
      'fio --rw readwrite --bs 4k --direct 1 --ioengine libaio --iodepth 32 --verify crc32c --continue_on_error verify --loops 4 --runtime 3 --time_based',
    );
    expect(report.parts.map((p: any) => p.name).sort()).toEqual([a.path, b.path].sort());
    for (const part of report.parts) {
      expect(part).toMatchObject({ passed: true, errors: 0, job_error: 0 });
      expect(part.read_mib_per_second).toBeGreaterThan(0);
      expect(part.write_mib_per_second).toBeGreaterThan(0);
    }
    // Both disks were running at the same time, each with its own figures.
    const live = snapshots.filter((s) => s.parts[a.path]?.state === 'running' && s.parts[b.path]?.state === 'running');
    expect(live.length).toBeGreaterThan(0);
    expect(live.at(-1).parts[a.path].write_bytes).toBeGreaterThan(0);
    expect(readFileSync(other.file).equals(before)).toBe(true);
  });

  it('fails naming the disk, the figure and the threshold when a disk is too slow', async () => {
    const a = scratch.create({ sizeMiB: 32 });
    ({ agent, client } = await startBurninAgent([a.path]));
    const { final } = await runStep(client, 'burnin_disk', {
      agent_burnin_fio_disk_runtime: 1,
      agent_burnin_fio_disk_min_write_mib_per_second: 1_000_000,
    });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.details).toMatch(
      new RegExp(
        `^burnin_disk failed: ${a.path}: write MiB/s [\\d.]+ is below agent_burnin_fio_disk_min_write_mib_per_second 1000000$`,
      ),
    );
  });

  it('refuses to run without a disk it may write to, saying why each was left out', async () => {
    const mounted = scratch.create({ sizeMiB: 16 });
    scratch.mount(mounted);
    ({ agent, client } = await startBurninAgent([mounted.path]));
    const { final } = await runStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 1 });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.details).toContain(
      `burnin_disk found no disk it may write to (${mounted.path}: holds a mounted filesystem`,
    );
  });

  it('aborting burnin_disk stops fio within seconds', async () => {
    const a = scratch.create({ sizeMiB: 64 });
    ({ agent, client } = await startBurninAgent([a.path]));
    const id = await startStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 600 });
    await waitUntil(() => descendants(['fio']).length >= 2, 10_000, 'fio and its job');
    agent.runner.abortAll('test abort');
    const stoppedMs = await waitUntil(() => descendants(['fio']).length === 0, 10_000, 'fio to exit');
    expect(stoppedMs).toBeLessThan(6_000);
    expect((await client.waitFor(id)).command_status).toBe('FAILED');
  });
});
