// burnin_gpu as IPA 10.0+ runs it: gpu-burn from agent_burnin_gpu_install_dir, a count
// check with `gpu_burn -l`, then the burn. This machine has no GPU and no gpu-burn, so each
// test installs a `gpu_burn` of its own in a folder it made: it prints what gpu-burn prints
// (the printf formats of wilicc/gpu-burn's gpu_burn-drv.cpp: "ID n: name, MB" lines for -l,
// "\r"-rewritten status lines, "Tested N GPUs:" and "GPU n: OK|FAULTY"), and like gpu-burn
// it needs compare.ptx in its current directory.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { parseGpuBurnStatus } from '../../../hardware-managers/burnin/gpu.js';
import { runStep, startBurninAgent } from './helpers.js';

const SCRIPT = `#!/bin/sh
here=$(dirname "$0")
echo "$(pwd) $*" >> "$here/calls"
if [ ! -f compare.ptx ]; then echo "Couldn't init a GPU test: compare.ptx not found" >&2; exit 124; fi
if [ "$1" = "-l" ]; then cat gpus; exit 0; fi
echo "Using compare file: compare.ptx"
echo "Burning for $3 seconds."
printf "\\r50.0%%  proc'd: 120 (18021 Gflop/s) - 118 (17990 Gflop/s)   errors: 0 - $(cat errors)   temps: 61 C - 63 C "
printf "\\n\\tSummary at:   "; echo "Mon Dec  7 14:00:00 UTC 2026"; printf "\\n"
printf "\\r100.0%%  proc'd: 240 (18020 Gflop/s) - 236 (17991 Gflop/s)   errors: 0 - $(cat errors)   temps: 62 C - 64 C "
printf "\\nKilling processes with SIGTERM (soft kill)\\ndone\\n"
printf "\\nTested 2 GPUs:\\n\\tGPU 0: OK\\n\\tGPU 1: %s\\n" "$(cat verdict1)"
`;

let agent: RunningAgent | undefined;
let dir: string | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A gpu-burn install folder with two GPUs; GPU 1's verdict and error count as given. */
function installGpuBurn(options: { verdict1?: 'OK' | 'FAULTY'; errors1?: number } = {}): string {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-gpu-burn-'));
  writeFileSync(join(dir, 'gpu_burn'), SCRIPT);
  chmodSync(join(dir, 'gpu_burn'), 0o755);
  writeFileSync(join(dir, 'compare.ptx'), '// kernel\n');
  writeFileSync(join(dir, 'gpus'), 'ID 0: NVIDIA A100-SXM4-40GB, 42505MB\nID 1: NVIDIA A100-SXM4-40GB, 42505MB\n');
  writeFileSync(join(dir, 'verdict1'), options.verdict1 ?? 'OK');
  writeFileSync(join(dir, 'errors'), String(options.errors1 ?? 0));
  writeFileSync(join(dir, 'calls'), '');
  return dir;
}

const calls = () => readFileSync(join(dir!, 'calls'), 'utf8').trim().split('\n').filter(Boolean);

describe('burnin_gpu', () => {
  it('is offered as IPA offers it: clean and service step, priority 0, deploy, abortable', async () => {
    let client;
    ({ agent, client } = await startBurninAgent());
    const node = { uuid: 'n1', properties: {}, instance_info: {}, driver_internal_info: {} };
    for (const phase of ['clean', 'service']) {
      const listed = await client.post(`${phase}.get_${phase}_steps`, { node, ports: [] }, true);
      const steps = Object.values(listed.body.command_result[`${phase}_steps`] as Record<string, any[]>).flat();
      expect(steps.find((s) => s.step === 'burnin_gpu')).toMatchObject({
        priority: 0,
        interface: 'deploy',
        abortable: true,
        reboot_requested: false,
      });
    }
  });

  it("runs gpu_burn in its install folder with IPA's defaults and reports each GPU", async () => {
    const installDir = installGpuBurn();
    let client;
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(
      client,
      'burnin_gpu',
      {},
      { agent_burnin_gpu_install_dir: installDir, agent_burnin_gpu_timeout: 2 },
    );
    expect(final.command_status).toBe('SUCCEEDED');
    // No count given: no `-l`; memory 95 % (IPA's default); run from the install folder.
    expect(calls()).toEqual([`${installDir} -m 95% 2`]);
    const report = final.command_result.clean_result;
    expect(report).toMatchObject({ step: 'burnin_gpu', tool: 'gpu-burn', planned_seconds: 2, passed: true });
    expect(report.commands).toEqual([`${installDir}/gpu_burn -m 95% 2`]);
    expect(report.parts).toEqual([
      { name: 'GPU 0', passed: true, failures: [], result: 'OK' },
      { name: 'GPU 1', passed: true, failures: [], result: 'OK' },
    ]);
  });

  it("checks the GPU count first and fails with IPA's message when it differs", async () => {
    const installDir = installGpuBurn();
    let client;
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(
      client,
      'burnin_gpu',
      {},
      { agent_burnin_gpu_install_dir: installDir, agent_burnin_gpu_count: 3, agent_burnin_gpu_timeout: 2 },
    );
    expect(final.command_error).toMatchObject({
      type: 'CleaningError',
      details: 'gpu-burn failed to find the correct number of gpus. 2 found but 3 expected.',
    });
    expect(calls()).toEqual([`${installDir} -l`]);

    const counted = await runStep(
      client,
      'burnin_gpu',
      { agent_burnin_gpu_memory: '4096' },
      { agent_burnin_gpu_install_dir: installDir, agent_burnin_gpu_count: 2, agent_burnin_gpu_timeout: 2 },
    );
    expect(counted.final.command_status).toBe('SUCCEEDED');
    expect(calls().slice(1)).toEqual([`${installDir} -l`, `${installDir} -m 4096 2`]);
  });

  it('fails naming a GPU gpu-burn found faulty, though gpu-burn exits 0', async () => {
    const installDir = installGpuBurn({ verdict1: 'FAULTY', errors1: 7 });
    let client;
    ({ agent, client } = await startBurninAgent());
    const { final } = await runStep(
      client,
      'burnin_gpu',
      {},
      { agent_burnin_gpu_install_dir: installDir, agent_burnin_gpu_timeout: 2 },
    );
    expect(final.command_error).toMatchObject({
      type: 'CleaningError',
      details: 'burnin_gpu failed: GPU 1: gpu-burn found it FAULTY: it computed wrong results',
    });
  });

  it('says gpu-burn is missing when the install folder has none, or is missing itself', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-gpu-burn-'));
    let client;
    ({ agent, client } = await startBurninAgent());
    for (const installDir of [dir, join(dir, 'nonexistent')]) {
      const { final } = await runStep(client, 'burnin_gpu', {}, { agent_burnin_gpu_install_dir: installDir });
      expect(final.command_error).toMatchObject({
        type: 'CommandExecutionError',
        details: `gpu-burn failed: ${installDir}/gpu_burn is not installed in this ramdisk`,
      });
    }
  });

  it("reads gpu-burn's status line per GPU, with its warnings and dead workers", () => {
    expect(
      parseGpuBurnStatus("42.0%  proc'd: 1234 (19876 Gflop/s) - -1 (0 Gflop/s)   errors: 0 - 3  (WARNING!)  temps: 61 C - -- "),
    ).toEqual({
      percent: 42,
      gpus: [
        { iterations: 1234, gflops: 19876, errors: 0, celsius: 61 },
        { iterations: -1, gflops: 0, errors: 3, celsius: null },
      ],
    });
    expect(parseGpuBurnStatus('Burning for 60 seconds.')).toBeUndefined();
  });
});
