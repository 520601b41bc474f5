// Ironic keeps no clean step result: what an operator gets of a burn-in is the ramdisk log
// the conductor collects (IPA logs stress-ng's and fio's reports at INFO). These runs read the
// agent's log buffer, which is what log.collect_system_logs puts in the bundle.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';
import { runStep, startBurninAgent } from './helpers.js';

const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  scratch.cleanup();
});
afterAll(() => scratch.cleanup());

/** The agent's log lines (pino JSON), as the log bundle carries them. */
function logLines(): any[] {
  return agent!.services.logBuffer
    .text()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

describe('burn-in output in the agent log', () => {
  it("burnin_cpu logs stress-ng's own report and the step's figures", async () => {
    let client;
    ({ agent, client } = await startBurninAgent([], { logLevel: 'info' }));
    const { final } = await runStep(client, 'burnin_cpu', {}, { agent_burnin_cpu_cpu: 1, agent_burnin_cpu_timeout: 1 });
    expect(final.command_status).toBe('SUCCEEDED');
    const lines = logLines();
    const toolLines = lines.filter((l) => l.tool === 'stress-ng').map((l) => l.msg as string);
    expect(toolLines.some((m) => /dispatching hogs: 1 cpu/.test(m))).toBe(true);
    // The metrics line, as IPA's log has it: stressor, bogo ops, times, rates.
    expect(toolLines.some((m) => /^stress-ng: (metrc|info): +\[\d+\] +cpu +\d+ /.test(m))).toBe(true);
    const report = lines.find((l) => l.burnin_report)?.burnin_report;
    expect(report).toMatchObject({ step: 'burnin_cpu', passed: true });
    expect(report.parts[0].bogo_ops).toBe(final.command_result.clean_result.parts[0].bogo_ops);
  });

  it('a failed burn-in still leaves its figures in the log, beside the error', async () => {
    let client;
    ({ agent, client } = await startBurninAgent([], { logLevel: 'info' }));
    const { final } = await runStep(
      client,
      'burnin_cpu',
      { agent_burnin_cpu_min_bogo_ops_per_second: 1e12 },
      { agent_burnin_cpu_cpu: 1, agent_burnin_cpu_timeout: 1 },
    );
    expect(final.command_status).toBe('FAILED');
    const report = logLines().find((l) => l.burnin_report)?.burnin_report;
    expect(report).toMatchObject({ step: 'burnin_cpu', passed: false });
    expect(report.parts[0].bogo_ops).toBeGreaterThan(0);
  });

  it.runIf(canUseLoopDevices())("burnin_disk logs fio's final report per disk", async () => {
    const disk = scratch.create({ sizeMiB: 32 });
    let client;
    ({ agent, client } = await startBurninAgent([disk.path], { logLevel: 'info' }));
    const { final } = await runStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 1 });
    expect(final.command_status).toBe('SUCCEEDED');
    const lines = logLines();
    const fio = lines.find((l) => l.fio_report)?.fio_report;
    expect(fio['fio version']).toMatch(/^fio-/);
    expect(fio.jobs.map((j: any) => j.jobname)).toEqual([disk.path]);
    expect(fio.jobs[0].write.io_bytes).toBeGreaterThan(0);
    expect(lines.find((l) => l.burnin_report)?.burnin_report).toMatchObject({ step: 'burnin_disk', passed: true });
  });
});
