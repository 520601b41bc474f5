// IPA passes agent_burnin_*_timeout / _runtime to stress-ng and fio as they are, and both
// tools read a unit after the number: "30m" and "6h" in driver_info work with IPA, so they
// must work here too, and mean the same number of seconds.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { diskArgs } from '../../../hardware-managers/burnin/fio-disk.js';
import { networkArgs } from '../../../hardware-managers/burnin/fio-network.js';
import { gpuArgs } from '../../../hardware-managers/burnin/gpu.js';
import { resolveKnobs } from '../../../hardware-managers/burnin/knobs.js';
import { cpuArgs, memoryArgs } from '../../../hardware-managers/burnin/stress.js';
import { InvalidCommandParamsError, type IronicNode } from '../../../src/hardware/index.js';
import { runStep, startBurninAgent } from './helpers.js';

let agent: RunningAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

const node = (driverInfo: Record<string, unknown>) => ({ uuid: 'n1', driver_info: driverInfo }) as IronicNode;

describe('burn-in run lengths with a unit', () => {
  it('burnin_cpu with agent_burnin_cpu_timeout "2s" runs stress-ng for 2 seconds', async () => {
    let client;
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(client, 'burnin_cpu', {}, { agent_burnin_cpu_cpu: 1, agent_burnin_cpu_timeout: '2s' });
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report.commands).toEqual(['stress-ng --cpu 1 --timeout 2 --metrics-brief']);
    expect(report.planned_seconds).toBe(2);
  });

  it('reads s, m, h and d as stress-ng and fio do, for every run length knob', () => {
    const cases = [
      [cpuArgs, 'agent_burnin_cpu_timeout'],
      [memoryArgs, 'agent_burnin_vm_timeout'],
      [diskArgs, 'agent_burnin_fio_disk_runtime'],
      [networkArgs, 'agent_burnin_fio_network_runtime'],
      [gpuArgs, 'agent_burnin_gpu_timeout'],
    ] as const;
    for (const [schema, key] of cases) {
      const seconds = (value: unknown) => (resolveKnobs(schema, {}, node({ [key]: value })) as Record<string, unknown>)[key];
      expect(seconds('30m')).toBe(1_800);
      expect(seconds(' 6H ')).toBe(21_600);
      expect(seconds('1d')).toBe(86_400);
      expect(seconds('45s')).toBe(45);
      expect(seconds('600')).toBe(600);
      expect(seconds(600)).toBe(600);
    }
  });

  it('refuses what the tools would misread, naming the knob', () => {
    // stress-ng misreads a fraction ("0.02m" ran for 20 s here, not 1.2 s); "2 weeks" has no unit it knows.
    for (const value of ['1.5h', '2 weeks', '-5', 'soon']) {
      const attempt = () => resolveKnobs(cpuArgs, {}, node({ agent_burnin_cpu_timeout: value }));
      expect(attempt).toThrow(InvalidCommandParamsError);
      expect(attempt).toThrow(/driver_info\.agent_burnin_cpu_timeout must be whole seconds, or a whole number with s, m, h or d/);
    }
  });
});
