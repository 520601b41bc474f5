/**
 * burnin_gpu: IPA's gpu_burn (IPA 10.0+, reference §10), with gpu-burn
 * (github.com/wilicc/gpu-burn) installed by the image builder in `agent_burnin_gpu_install_dir`:
 * when `agent_burnin_gpu_count` > 0, `./gpu_burn -l` must list that many GPUs ("ID n: ..."
 * lines); then `./gpu_burn -m <memory> <timeout>`, run in the install folder as IPA does
 * (gpu-burn reads its compare.ptx from the current directory).
 *
 * Unlike IPA, a GPU that gpu-burn calls FAULTY (it computed wrong results) fails the step:
 * gpu-burn exits 0 either way and IPA only checks the exit code, so IPA passes it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { CleaningError, type StepContext } from '../../src/hardware/index.js';
import { integer, resolveKnobs, toolTimeoutMs, duration } from './knobs.js';
import { BurninProgress } from './progress.js';
import { assertPassed, round, toolFailure, type BurninReport, type PartReport } from './report.js';
import { ToolOutputLog } from './tool-log.js';

export const gpuArgs = z.object({
  agent_burnin_gpu_install_dir: z
    .string()
    .min(1)
    .optional()
    .describe('Folder holding gpu_burn and its compare.ptx (IPA default /opt/gpu-burn)'),
  // gpu-burn reads plain seconds (atoi: IPA's "1h" would run for one second); a unit is
  // read as stress-ng and fio read it, and gpu-burn gets the seconds.
  agent_burnin_gpu_timeout: duration.optional().describe('Seconds to run, or with a unit: 30m, 6h, 1d (IPA default 86400)'),
  agent_burnin_gpu_memory: z
    .union([z.string().regex(/^\d+%?$/), integer])
    .optional()
    .describe('GPU memory to use: N% of the available, or N MB (IPA default "95%")'),
  agent_burnin_gpu_count: integer.optional().describe('GPUs gpu_burn -l must list; 0 skips the check (IPA default 0)'),
});

/** gpu-burn stops its workers at the timeout, then waits for them and prints the verdict. */
const EXEC_GRACE_MS = 120_000;

// `ID 0: NVIDIA A100-SXM4-40GB, 42505MB` (gpu_burn -l); IPA counts the lines starting with "ID".
const LISTED_GPU = /^ID/;
// `\tGPU 0: OK` / `\tGPU 1: FAULTY` after "Tested N GPUs:".
const VERDICT = /^\s*GPU (\d+): (OK|FAULTY)\s*$/;
// `42.0%  proc'd: 1234 (19876 Gflop/s) - 1200 (19001 Gflop/s)   errors: 0 - 3  (WARNING!)  temps: 61 C - 63 C `
const STATUS = /^(\d+(?:\.\d+)?)%\s+proc'd: (.*?)\s+errors: (.*?)\s+temps: (.*)$/;

interface GpuStatus {
  percent: number;
  gpus: { iterations: number; gflops: number | null; errors: number; celsius: number | null }[];
}

/** One progress report of gpu-burn (it rewrites one line with `\r`): per GPU, in GPU order. */
export function parseGpuBurnStatus(line: string): GpuStatus | undefined {
  const m = STATUS.exec(line.trim());
  if (!m) return undefined;
  const split = (text: string) => text.split(' - ').map((piece) => piece.trim());
  const work = split(m[2]!);
  const errors = split(m[3]!);
  const temps = split(m[4]!);
  return {
    percent: Number(m[1]),
    gpus: work.map((piece, index) => {
      const done = /^(-?\d+)(?: \((\d+) Gflop\/s\))?/.exec(piece);
      return {
        iterations: Number(done?.[1] ?? 0),
        gflops: done?.[2] === undefined ? null : Number(done[2]),
        errors: Number(/^\d+/.exec(errors[index] ?? '')?.[0] ?? 0),
        celsius: /^(\d+) C/.test(temps[index] ?? '') ? Number(/^(\d+)/.exec(temps[index]!)![1]) : null,
      };
    }),
  };
}

async function checkGpuCount(ctx: StepContext, tool: string, installDir: string, expected: number): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await ctx.exec(tool, ['-l'], { cwd: installDir, signal: ctx.signal }));
  } catch (error) {
    throw toolFailure('gpu-burn', error);
  }
  const found = stdout.split('\n').filter((line) => LISTED_GPU.test(line)).length;
  // IPA's message.
  if (found !== expected)
    throw new CleaningError(`gpu-burn failed to find the correct number of gpus. ${found} found but ${expected} expected.`);
  return found;
}

export async function burninGpu(ctx: StepContext, raw: z.output<typeof gpuArgs>): Promise<BurninReport> {
  const knobs = resolveKnobs(gpuArgs, raw, ctx.node);
  const installDir = knobs.agent_burnin_gpu_install_dir ?? '/opt/gpu-burn';
  const timeout = knobs.agent_burnin_gpu_timeout ?? 86_400;
  const memory = String(knobs.agent_burnin_gpu_memory ?? '95%');
  const count = knobs.agent_burnin_gpu_count ?? 0;
  const tool = join(installDir, 'gpu_burn');
  const commands: string[] = [];

  const startedAt = new Date();
  const progress = new BurninProgress(ctx.progress, 'burnin_gpu');
  try {
    if (count > 0) {
      progress.phase('counting GPUs', null);
      commands.push(`${tool} -l`);
      await checkGpuCount(ctx, tool, installDir, count);
    } else {
      ctx.log.debug("skipping the expected number of GPUs check: 'agent_burnin_gpu_count' is 0");
    }
  } catch (error) {
    progress.close('failed');
    throw error;
  }

  const args = ['-m', memory, String(timeout)];
  commands.push([tool, ...args].join(' '));
  progress.phase('gpu-burn', timeout);
  const verdicts = new Map<number, 'OK' | 'FAULTY'>();
  const output = new ToolOutputLog(ctx.log, 'gpu-burn');
  try {
    await ctx.exec(tool, args, {
      cwd: installDir,
      timeoutMs: toolTimeoutMs(timeout * 1000 + EXEC_GRACE_MS),
      signal: ctx.signal,
      // Hours of `\r` status updates: read as they come, never kept whole.
      keepStdout: false,
      // The exec wrapper splits lines at `\r` too: each status update comes as a line.
      onLine: (line) => {
        const status = parseGpuBurnStatus(line);
        if (status) {
          // Errors count since gpu-burn's last summary (every 10 % of the run), not in total.
          status.gpus.forEach((gpu, index) => progress.part(`GPU ${index}`, { state: 'running', ...gpu }));
          return;
        }
        if (line.trim().length > 0) output.line(line);
        const verdict = VERDICT.exec(line);
        if (verdict) verdicts.set(Number(verdict[1]), verdict[2] as 'OK' | 'FAULTY');
      },
    });
  } catch (error) {
    output.close();
    progress.close('failed');
    throw toolFailure('gpu-burn', error);
  }
  output.close();

  const parts: PartReport[] = [...verdicts].map(([index, verdict]) => {
    const part: PartReport = { name: `GPU ${index}`, passed: verdict === 'OK', failures: [], result: verdict };
    if (verdict === 'FAULTY') part.failures.push('gpu-burn found it FAULTY: it computed wrong results');
    progress.part(part.name, { state: part.passed ? 'passed' : 'failed', result: verdict });
    return part;
  });
  if (parts.length === 0) parts.push({ name: 'gpu-burn', passed: false, failures: ['gpu-burn printed no result per GPU'] });
  progress.close(parts.every((p) => p.passed) ? 'done' : 'failed');
  return assertPassed(
    {
      step: 'burnin_gpu',
      tool: 'gpu-burn',
      commands,
      started_at: startedAt.toISOString(),
      duration_seconds: round((Date.now() - startedAt.getTime()) / 1000),
      planned_seconds: timeout,
      passed: true,
      parts,
      thresholds: count > 0 ? { agent_burnin_gpu_count: count } : {},
    },
    ctx.log,
  );
}
