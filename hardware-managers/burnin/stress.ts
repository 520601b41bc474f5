/**
 * burnin_cpu and burnin_memory: stress-ng with IPA's command line (reference §10) and
 * knobs, plus figures and a verdict. The memory stressor runs with `--verify`, which IPA
 * does not pass: without it stress-ng only exercises memory and cannot notice a bit that
 * flipped; with it every vm method checks what it wrote and a mismatch fails the run.
 */
import { z } from 'zod';
import type { StepContext } from '../../src/hardware/index.js';
import { integer, outputFile, resolveKnobs, wholeNumber, toolTimeoutMs, duration } from './knobs.js';
import { BurninProgress } from './progress.js';
import { ToolOutputLog } from './tool-log.js';
import { assertPassed, checkThreshold, round, thresholdsOf, toolFailure, type BurninReport, type PartReport } from './report.js';

/** IPA's default run: 24 hours. */
const DEFAULT_TIMEOUT_SECONDS = 86_400;
/** stress-ng stops its stressors at --timeout; this covers start-up and the final report. */
const EXEC_GRACE_MS = 120_000;

export const cpuArgs = z.object({
  agent_burnin_cpu_cpu: integer.optional().describe('stress-ng CPU workers (0 = one per online CPU; IPA default 0)'),
  agent_burnin_cpu_timeout: duration.optional().describe('Seconds to run, or with a unit: 30m, 6h, 1d (IPA default 86400)'),
  agent_burnin_cpu_outputfile: outputFile.optional().describe("stress-ng's log file (--log-file)"),
  agent_burnin_cpu_min_bogo_ops_per_second: wholeNumber
    .optional()
    .describe('Fail when the bogo-ops per second (real time, all workers) stay below this'),
});

export const memoryArgs = z.object({
  agent_burnin_vm_vm: integer.optional().describe('stress-ng vm workers (0 = one per online CPU; IPA default 0)'),
  agent_burnin_vm_timeout: duration.optional().describe('Seconds to run, or with a unit: 30m, 6h, 1d (IPA default 86400)'),
  'agent_burnin_vm_vm-bytes': z
    .union([z.string().regex(/^\d+(\.\d+)?[%bBkKmMgGtT]?$/), integer])
    .optional()
    .describe('Memory per run, bytes with k/m/g suffix or a percentage of the available memory (IPA default "98%")'),
  agent_burnin_vm_outputfile: outputFile.optional().describe("stress-ng's log file (--log-file)"),
  agent_burnin_vm_min_bogo_ops_per_second: wholeNumber
    .optional()
    .describe('Fail when the bogo-ops per second (real time, all workers) stay below this'),
});

export interface StressNgMetrics {
  stressor: string;
  bogoOps: number;
  realTimeSeconds: number;
  userTimeSeconds: number;
  systemTimeSeconds: number;
  bogoOpsPerSecondRealTime: number;
  bogoOpsPerSecondCpuTime: number;
}

// `stress-ng: metrc: [123] cpu   824   2.00   0.55   0.00   412.77   1493.00` (0.15+; "info:" before).
const METRICS_LINE =
  /^stress-ng: (?:metrc|info): +\[\d+\] +([a-z][\w-]*) +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)\s*$/;
const DISPATCH_LINE = /dispatching hogs: (.+)$/;
const FAIL_LINE = /^stress-ng: fail: +\[\d+\] +(.*)$/;

export function parseStressNgMetrics(line: string): StressNgMetrics | undefined {
  const m = METRICS_LINE.exec(line);
  if (!m) return undefined;
  return {
    stressor: m[1]!,
    bogoOps: Number(m[2]),
    realTimeSeconds: Number(m[3]),
    userTimeSeconds: Number(m[4]),
    systemTimeSeconds: Number(m[5]),
    bogoOpsPerSecondRealTime: Number(m[6]),
    bogoOpsPerSecondCpuTime: Number(m[7]),
  };
}

/** `dispatching hogs: 2 cpu, 1 vm` → {cpu: 2, vm: 1}. */
export function parseDispatchedWorkers(line: string): Record<string, number> | undefined {
  const m = DISPATCH_LINE.exec(line);
  if (!m) return undefined;
  const workers: Record<string, number> = {};
  for (const piece of m[1]!.split(',')) {
    const [count, name] = piece.trim().split(/\s+/);
    if (name && count && /^\d+$/.test(count)) workers[name] = Number(count);
  }
  return workers;
}

interface StressSpec {
  step: 'burnin_cpu' | 'burnin_memory';
  stressor: 'cpu' | 'vm';
  workers: number;
  timeoutSeconds: number;
  extraArgs: string[];
  logFile: string | undefined;
  minBogoOpsPerSecond: { knob: string; limit: number | undefined };
}

export function burninCpu(ctx: StepContext, raw: z.output<typeof cpuArgs>): Promise<BurninReport> {
  const knobs = resolveKnobs(cpuArgs, raw, ctx.node);
  return runStressNg(ctx, {
    step: 'burnin_cpu',
    stressor: 'cpu',
    workers: knobs.agent_burnin_cpu_cpu ?? 0,
    timeoutSeconds: knobs.agent_burnin_cpu_timeout ?? DEFAULT_TIMEOUT_SECONDS,
    extraArgs: [],
    logFile: knobs.agent_burnin_cpu_outputfile,
    minBogoOpsPerSecond: {
      knob: 'agent_burnin_cpu_min_bogo_ops_per_second',
      limit: knobs.agent_burnin_cpu_min_bogo_ops_per_second,
    },
  });
}

export function burninMemory(ctx: StepContext, raw: z.output<typeof memoryArgs>): Promise<BurninReport> {
  const knobs = resolveKnobs(memoryArgs, raw, ctx.node);
  return runStressNg(ctx, {
    step: 'burnin_memory',
    stressor: 'vm',
    workers: knobs.agent_burnin_vm_vm ?? 0,
    timeoutSeconds: knobs.agent_burnin_vm_timeout ?? DEFAULT_TIMEOUT_SECONDS,
    extraArgs: ['--vm-bytes', String(knobs['agent_burnin_vm_vm-bytes'] ?? '98%'), '--verify'],
    logFile: knobs.agent_burnin_vm_outputfile,
    minBogoOpsPerSecond: {
      knob: 'agent_burnin_vm_min_bogo_ops_per_second',
      limit: knobs.agent_burnin_vm_min_bogo_ops_per_second,
    },
  });
}

async function runStressNg(ctx: StepContext, spec: StressSpec): Promise<BurninReport> {
  const args = [
    `--${spec.stressor}`,
    String(spec.workers),
    '--timeout',
    String(spec.timeoutSeconds),
    ...spec.extraArgs,
    '--metrics-brief',
    ...(spec.logFile ? ['--log-file', spec.logFile] : []),
  ];
  const startedAt = new Date();
  const progress = new BurninProgress(ctx.progress, spec.step);
  progress.phase(`stress-ng ${spec.stressor}`, spec.timeoutSeconds);
  const part: PartReport = { name: spec.stressor, passed: true, failures: [], workers: spec.workers || null };
  progress.part(spec.stressor, { state: 'running', workers: part.workers });
  let metrics: StressNgMetrics | undefined;
  const failLines: string[] = [];
  // stress-ng reports on stderr only (IPA logs it): dispatch, metrics, verification failures.
  const output = new ToolOutputLog(ctx.log, 'stress-ng');

  try {
    await ctx.exec('stress-ng', args, {
      timeoutMs: toolTimeoutMs(spec.timeoutSeconds * 1000 + EXEC_GRACE_MS),
      signal: ctx.signal,
      quiet: true,
      onLine: (line) => {
        output.line(line);
        const workers = parseDispatchedWorkers(line)?.[spec.stressor];
        if (workers !== undefined) {
          part.workers = workers;
          progress.part(spec.stressor, { state: 'running', workers });
        }
        metrics = parseStressNgMetrics(line) ?? metrics;
        const fail = FAIL_LINE.exec(line)?.[1];
        if (fail && failLines.length < 10) failLines.push(fail.trim());
      },
    });
  } catch (error) {
    output.close();
    progress.close('failed');
    // A failed verification is reported on "fail:" lines: those, not the whole log, name it.
    throw toolFailure(`stress-ng (${spec.stressor})`, failLines.length > 0 ? new Error(failLines.join('; ')) : error);
  }
  output.close();

  if (metrics) {
    Object.assign(part, {
      bogo_ops: metrics.bogoOps,
      bogo_ops_per_second: round(metrics.bogoOpsPerSecondRealTime, 2),
      bogo_ops_per_cpu_second: round(metrics.bogoOpsPerSecondCpuTime, 2),
      real_time_seconds: metrics.realTimeSeconds,
      user_time_seconds: metrics.userTimeSeconds,
      system_time_seconds: metrics.systemTimeSeconds,
    });
  } else {
    part.failures.push('stress-ng printed no metrics');
    part.passed = false;
  }
  checkThreshold(part, 'bogo-ops per second', metrics?.bogoOpsPerSecondRealTime, { ...spec.minBogoOpsPerSecond, kind: 'min' });
  progress.part(spec.stressor, { state: part.passed ? 'passed' : 'failed', ...part });
  progress.close(part.passed ? 'done' : 'failed');

  return assertPassed(
    {
      step: spec.step,
      tool: 'stress-ng',
      commands: [['stress-ng', ...args].join(' ')],
      started_at: startedAt.toISOString(),
      duration_seconds: round((Date.now() - startedAt.getTime()) / 1000),
      planned_seconds: spec.timeoutSeconds,
      passed: part.passed,
      parts: [part],
      thresholds: thresholdsOf([{ ...spec.minBogoOpsPerSecond, kind: 'min' }]),
    },
    ctx.log,
  );
}
