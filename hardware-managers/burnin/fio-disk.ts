/**
 * burnin_disk: IPA's fio job (reference §10: 4k mixed read/write, O_DIRECT, libaio depth
 * 32, crc32c verification that carries on after a mismatch, `loops` passes or `runtime`
 * seconds), one fio job per disk in one fio process, so every disk runs at the same time.
 * Unlike IPA the disks are the guarded ones only (burnin_disk destroys their contents),
 * fio dumps no file per bad block (see fioDiskArgs), fio reports JSON every second for live
 * per-disk throughput, and a verification error fails the step (IPA's fio exits 0 after
 * `continue_on_error=verify`, so IPA passes it).
 */
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { CleaningError, ExecError, type BlockDevice, type StepContext } from '../../src/hardware/index.js';
import { planDiskBurnin } from './disk-targets.js';
import { FioJsonStream, jobStopped, MIB, mibPerSecond, type FioDocument, type FioJob } from './fio-json.js';
import { flag, integer, outputFile, resolveKnobs, wholeNumber, toolTimeoutMs, duration } from './knobs.js';
import { BurninProgress } from './progress.js';
import {
  assertPassed,
  checkThreshold,
  round,
  thresholdsOf,
  toolFailure,
  type BurninReport,
  type PartReport,
  type Threshold,
} from './report.js';
import { runSelfTests } from './self-test.js';
import { ToolOutputLog } from './tool-log.js';

export const diskArgs = z.object({
  agent_burnin_fio_disk_loops: integer.optional().describe('Passes over each disk when no runtime is set (IPA default 4)'),
  agent_burnin_fio_disk_runtime: duration
    .optional()
    .describe('Seconds to run (or 30m, 6h, 1d), 0 = until the loops are done (IPA default 0)'),
  agent_burnin_fio_disk_outputfile: outputFile.optional().describe("Where to write fio's final JSON report"),
  agent_burnin_fio_disk_smart_test: flag
    .optional()
    .describe('Run a SMART long self-test on every disk afterwards (IPA default false)'),
  agent_burnin_fio_disk_min_read_mib_per_second: wholeNumber.optional().describe('Fail a disk whose read MiB/s stays below this'),
  agent_burnin_fio_disk_min_write_mib_per_second: wholeNumber
    .optional()
    .describe('Fail a disk whose write MiB/s stays below this'),
  agent_burnin_fio_disk_max_errors: integer.optional().describe('I/O and verification errors tolerated per disk (default 0)'),
});

const STATUS_INTERVAL_SECONDS = 1;
function fioDiskArgs(devices: readonly BlockDevice[], loops: number, runtime: number): string[] {
  // prettier-ignore
  const args = [
    '--rw', 'readwrite', '--bs', '4k', '--direct', '1', '--ioengine', 'libaio', '--iodepth', '32',
    // No --verify_dump 1 (IPA passes it): fio then writes a 4 KiB file per bad block into its
    // working directory, RAM in a ramdisk, where nothing reads them; a disk with a bad region
    // fills the memory the agent runs in. Each bad block is still named on stderr (logged).
    '--verify', 'crc32c', '--continue_on_error', 'verify',
    '--loops', String(loops), '--runtime', String(runtime), '--time_based',
    '--output-format', 'json', '--status-interval', String(STATUS_INTERVAL_SECONDS),
    // fio would leave "<job>-verify.state" files in the agent's working directory when
    // stopped (abort): nothing ever resumes a burn-in's verification.
    '--verify_state_save', '0',
  ];
  for (const device of devices) {
    // A job named after a block device uses that device as its file, as in IPA. fio does so
    // only for a name that exists and is not a regular file: a job named after a plain file
    // (an allow-listed stand-in for a disk) would create and fill "<name>.0.0" beside it, a
    // file nobody allowed, and leave the allowed one untouched. So a plain file is named as
    // the job's file (":" escaped: fio splits file lists on it), with its size.
    args.push('--name', device.path);
    if (device.type === 'file') args.push('--filename', device.path.replaceAll(':', '\\:'), '--size', String(device.sizeBytes));
  }
  return args;
}

interface Sample {
  atMs: number;
  readBytes: number;
  writeBytes: number;
}

function liveFigures(job: FioJob, previous: Sample | undefined, now: number): Record<string, unknown> {
  // Throughput over the last interval (what the disk does now); fio's own figure is the
  // average since the start, used for the first sample.
  const since = previous ? (now - previous.atMs) / 1000 : 0;
  const rate = (bytes: number, before: number | undefined, average: number) =>
    since > 0 && before !== undefined ? round((bytes - before) / MIB / since) : round(average);
  return {
    state: 'running',
    read_bytes: job.read.io_bytes,
    write_bytes: job.write.io_bytes,
    read_mib_per_second: rate(job.read.io_bytes, previous?.readBytes, mibPerSecond(job.read)),
    write_mib_per_second: rate(job.write.io_bytes, previous?.writeBytes, mibPerSecond(job.write)),
    errors: job.total_err ?? 0,
    elapsed_seconds: job.elapsed ?? null,
  };
}

function diskPart(job: FioJob | undefined, device: string, knobs: Thresholds, fioSaid: string): PartReport {
  const part: PartReport = { name: device, passed: true, failures: [] };
  if (!job) {
    part.passed = false;
    part.failures.push('fio reported nothing for this disk');
    return part;
  }
  const errors = job.total_err ?? 0;
  Object.assign(part, {
    read_bytes: job.read.io_bytes,
    write_bytes: job.write.io_bytes,
    read_mib_per_second: round(mibPerSecond(job.read), 2),
    write_mib_per_second: round(mibPerSecond(job.write), 2),
    errors,
    first_error: job.first_error ?? 0,
    job_error: job.error,
  });
  if (job.error !== 0) {
    part.passed = false;
    part.failures.push(jobStopped(job.error, fioSaid));
  }
  checkThreshold(part, 'errors', errors, knobs.maxErrors);
  checkThreshold(part, 'read MiB/s', mibPerSecond(job.read), knobs.minRead);
  checkThreshold(part, 'write MiB/s', mibPerSecond(job.write), knobs.minWrite);
  return part;
}

interface Thresholds {
  minRead: Threshold;
  minWrite: Threshold;
  maxErrors: Threshold;
}

export async function burninDisk(ctx: StepContext, raw: z.output<typeof diskArgs>): Promise<BurninReport> {
  const knobs = resolveKnobs(diskArgs, raw, ctx.node);
  const loops = knobs.agent_burnin_fio_disk_loops ?? 4;
  const runtime = knobs.agent_burnin_fio_disk_runtime ?? 0;
  // prettier-ignore
  const thresholds: Thresholds = {
    minRead: { knob: 'agent_burnin_fio_disk_min_read_mib_per_second', limit: knobs.agent_burnin_fio_disk_min_read_mib_per_second, kind: 'min' },
    minWrite: { knob: 'agent_burnin_fio_disk_min_write_mib_per_second', limit: knobs.agent_burnin_fio_disk_min_write_mib_per_second, kind: 'min' },
    maxErrors: { knob: 'agent_burnin_fio_disk_max_errors', limit: knobs.agent_burnin_fio_disk_max_errors ?? 0, kind: 'max' },
  };

  const plan = await planDiskBurnin(ctx);
  if (plan.targets.length === 0) {
    // Outside a ramdisk every device of the machine is "not in the allow-list": counted, not listed.
    const notAllowed = plan.skipped.filter((s) => s.reason.startsWith('not in the allow-list')).length;
    const why = [
      ...plan.skipped.filter((s) => !s.reason.startsWith('not in the allow-list')).map((s) => `${s.device}: ${s.reason}`),
      ...(notAllowed > 0 ? [`${notAllowed} device(s) not in the allow-list`] : []),
    ].join('; ');
    throw new CleaningError(`burnin_disk found no disk it may write to${why ? ` (${why})` : ''}`);
  }
  const startedAt = new Date();
  const progress = new BurninProgress(ctx.progress, 'burnin_disk');
  progress.phase('fio', runtime > 0 ? runtime : null);
  for (const device of plan.targets) progress.part(device.path, { state: 'starting', size_bytes: device.sizeBytes });

  const samples = new Map<string, Sample>();
  const stream = new FioJsonStream((doc: FioDocument) => {
    const now = Date.now();
    for (const job of doc.jobs) {
      progress.part(job.jobname, liveFigures(job, samples.get(job.jobname), now));
      samples.set(job.jobname, { atMs: now, readBytes: job.read.io_bytes, writeBytes: job.write.io_bytes });
    }
  });
  const args = fioDiskArgs(plan.targets, loops, runtime);
  // fio's errors (verification mismatches, I/O errors) come on stderr; its report, which
  // IPA logs, is the final JSON document on stdout.
  const output = new ToolOutputLog(ctx.log, 'fio');
  let toolError: unknown;
  try {
    await ctx.exec('fio', args, {
      timeoutMs: toolTimeoutMs(runtime > 0 ? runtime * 1000 + 300_000 : Infinity),
      signal: ctx.signal,
      keepStdout: false,
      onLine: (line, from) => (from === 'stdout' ? stream.push(line) : output.line(line)),
    });
  } catch (error) {
    // fio exits non-zero when a job failed; its final JSON still says which disk and why.
    if (!(error instanceof ExecError && error.reason === 'exit' && stream.last)) {
      output.close();
      progress.close('failed');
      throw toolFailure('fio (disk)', error, stream.otherOutput);
    }
    toolError = error;
  }
  output.close();
  const final = stream.last;
  if (final) ctx.log.info({ tool: 'fio', fio_report: final }, 'fio (disk) report');
  if (knobs.agent_burnin_fio_disk_outputfile && stream.lastText) {
    await writeFile(knobs.agent_burnin_fio_disk_outputfile, stream.lastText + '\n');
  }
  const parts = plan.targets.map((device) =>
    diskPart(
      final?.jobs.find((j) => j.jobname === device.path),
      device.path,
      thresholds,
      stream.otherOutput,
    ),
  );
  for (const part of parts) progress.part(part.name, { state: part.passed ? 'passed' : 'failed', ...part });

  if (knobs.agent_burnin_fio_disk_smart_test) {
    progress.phase('SMART long self-test', null);
    await runSelfTests(
      ctx,
      plan.targets.map((d) => d.path),
      'long',
      parts,
      progress,
    );
  }
  progress.close(parts.every((p) => p.passed) ? 'done' : 'failed');
  if (toolError && parts.every((p) => p.passed)) throw toolFailure('fio (disk)', toolError, stream.otherOutput);

  return assertPassed(
    {
      step: 'burnin_disk',
      tool: 'fio',
      commands: [['fio', ...args].join(' ')],
      started_at: startedAt.toISOString(),
      duration_seconds: round((Date.now() - startedAt.getTime()) / 1000),
      planned_seconds: runtime > 0 ? runtime : null,
      passed: true,
      parts,
      skipped: plan.skipped,
      thresholds: thresholdsOf(Object.values(thresholds)),
    },
    ctx.log,
  );
}
