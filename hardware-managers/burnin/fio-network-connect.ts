/**
 * The connecting side of a burnin_network direction: the reader of a static pair, or a sender
 * to a listening target. fio's net engine gives each of its 16 jobs its own TCP port (job n
 * uses port + n), and each job of the listening side accepts one connection on its port.
 *
 * A partner that starts listening during an attempt gets a half pairing: the listener's jobs
 * bind one after another (all 16 within about 15 ms here) while the connecting jobs connect
 * one after another (as quickly), so the jobs that connect first are refused and the later ones pair (or the other
 * way round). The paired jobs then run for the whole runtime, and the listener's other jobs
 * wait for a connection for good. IPA's reader (burnin.py _do_fio_network) retries only
 * when fio's exit code is 16, i.e. all 16 jobs failed (fio's exit code counts the failed
 * jobs): after a half pairing it fails its step once the paired jobs are done, and its
 * writer waits until aborted. Its 30 s retry cycle makes that rarer than a 2 s one, but does
 * not prevent it. This agent's reader did the same (its fio exited with code 8 of 16).
 *
 * So here each attempt runs one named job per port, and fio's JSON tells per job whether it
 * was refused. The ports that paired are done; the refused ones are tried again, in a
 * follow-up fio beside the running one (the partner's other listeners are up within
 * milliseconds of its first), until every port has paired once. What goes on the wire is
 * what IPA's reader sends (one TCP connection per port, nothing else), so an IPA writer pairs
 * with it as before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecError, type StepContext } from '../../src/hardware/index.js';
import { FioJsonStream, mibPerSecond, type FioDocument, type FioJob } from './fio-json.js';
import { toolTimeoutMs } from './knobs.js';
import type { BurninProgress } from './progress.js';
import { round, toolFailure } from './report.js';
import { ToolOutputLog } from './tool-log.js';

/** fio's job count, as IPA's --numjobs 16. */
export const FIO_NETWORK_JOBS = 16;
/**
 * IPA's reader retries a refused connection every 30 s; connecting is cheap, so the reader
 * here tries every 2 s, which starts the swapped direction sooner. A half pairing no longer
 * depends on this pace: its refused ports are tried again (see above).
 */
const RETRY_MS = 2_000;
/**
 * A partner still not listening after a minute is booting or not started yet (a static pair
 * waits for it without end): from then on the reader tries at IPA's pace, every 30 s, not
 * starting 16 fio jobs and logging a line every 2 s for hours.
 */
const SLOW_RETRY_AFTER_MS = 60_000;
const SLOW_RETRY_MS = 30_000;
/** After a half pairing the partner is up: its other listeners follow within milliseconds. */
const FOLLOW_UP_MS = 1_000;
/** A refused connect (ECONNREFUSED), one that timed out (ETIMEDOUT) or found no route (EHOSTUNREACH): the partner is not listening yet. */
const NOT_LISTENING = new Set([111, 110, 113]);

export interface ConnectDirection {
  /** The host to connect to. */
  host: string;
  /** A sender to a target writes for the runtime; a reader reads until the writer stops. */
  send: boolean;
}

export interface ConnectOptions {
  name: string;
  port: number;
  runtime: number;
  /** How long to wait for the partner; undefined: until the step is aborted. */
  pairingTimeoutSeconds: number | undefined;
  progress: BurninProgress;
  commands: string[];
}

export interface ConnectResult {
  bytes: number;
  mib_per_second: number;
  errors: number;
  /** fio's error of the first paired job that stopped with one, else 0. */
  job_error: number;
  /** What fio printed outside its reports in the run of that job (bounded by FioJsonStream), for its reason. */
  fioSaid: string;
  /** Ports paired, all of them when the direction is done. */
  ports_paired: number;
  /** fio runs that paired at least one port (1 unless a half pairing was completed). */
  paired_attempts: number;
  /** fio's final JSON report of each paired run. */
  reports: { doc: FioDocument; text: string }[];
}

function connectArgs(direction: ConnectDirection, ports: number[], runtime: number): string[] {
  const role = direction.send ? 'writer' : 'reader';
  // IPA's options, but the jobs named one by one, each on its port, without --group_reporting,
  // so that fio reports each job (and port) on its own.
  const args = ['--ioengine', 'net', '--fill_device', '1', '--gtod_reduce', '1', '--hostname', direction.host];
  if (direction.send) args.push('--rw', 'write', '--runtime', String(runtime), '--time_based');
  else args.push('--rw', 'read');
  for (const port of ports) args.push('--name', `${role}-${port}`, '--port', String(port));
  args.push('--output-format', 'json', '--status-interval', '1');
  return args;
}

const portOf = (job: FioJob) => Number(/-(\d+)$/.exec(job.jobname)?.[1]);
const side = (job: FioJob, send: boolean) => (send ? job.write : job.read);

interface AttemptEnd {
  /** fio's failure; undefined when it exited 0. */
  error: unknown;
  /** Its final report. */
  doc: FioDocument | undefined;
  text: string | undefined;
}

interface Attempt {
  ports: number[];
  /** The last document fio printed, for the progress figures. */
  stream: FioJsonStream;
  /** Resolves once every job has moved data or been refused, or fio ended. */
  decided: Promise<{ paired: number[]; refused: number[] }>;
  done: Promise<AttemptEnd>;
  output: ToolOutputLog;
}

function startAttempt(
  ctx: StepContext,
  signal: AbortSignal,
  direction: ConnectDirection,
  ports: number[],
  options: ConnectOptions & { onDocument: () => void },
): Attempt {
  const args = connectArgs(direction, ports, options.runtime);
  const command = ['fio', ...args].join(' ');
  if (!options.commands.includes(command)) options.commands.push(command);
  // A job has connected once it has moved data (or ended without error); a refused one
  // carries the errno. A job still connecting (a SYN unanswered) is neither yet.
  const verdict = (doc: FioDocument, final: boolean) => {
    const paired: number[] = [];
    const refused: number[] = [];
    for (const job of doc.jobs) {
      if (job.error === 0 && (final || side(job, direction.send).io_bytes > 0)) paired.push(portOf(job));
      else if (NOT_LISTENING.has(job.error) && side(job, direction.send).io_bytes === 0) refused.push(portOf(job));
    }
    return { paired, refused };
  };
  let decide!: (value: { paired: number[]; refused: number[] }) => void;
  const decided = new Promise<{ paired: number[]; refused: number[] }>((resolve) => (decide = resolve));
  const stream = new FioJsonStream((doc) => {
    const { paired, refused } = verdict(doc, false);
    if (paired.length + refused.length === ports.length) decide({ paired, refused });
    options.onDocument();
  });
  const output = new ToolOutputLog(ctx.log, 'fio', { hold: true });
  const timeoutMs = toolTimeoutMs(
    options.pairingTimeoutSeconds === undefined ? Infinity : (options.pairingTimeoutSeconds + options.runtime) * 1000 + 120_000,
  );
  const done = ctx
    .exec('fio', args, {
      timeoutMs,
      signal,
      keepStdout: false,
      onLine: (line, from) => (from === 'stdout' ? stream.push(line) : output.line(line)),
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    )
    .then((error): AttemptEnd => {
      const doc = stream.last;
      decide(doc ? verdict(doc, true) : { paired: [], refused: isAllRefused(error) ? ports : [] });
      return { error, doc, text: stream.lastText };
    });
  return { ports, stream, decided, done, output };
}

/** fio ended before printing a report: all its jobs refused (exit code = failed jobs), or a connect error in its output. */
function isAllRefused(error: unknown): boolean {
  return (
    error instanceof ExecError &&
    error.reason === 'exit' &&
    (error.exitCode === FIO_NETWORK_JOBS ||
      /Connection refused|Connection timed out|No route to host/.test(error.stderr + error.stdout))
  );
}

/** Sums the paired jobs of every paired run (they run side by side, so their rates add up). */
function figures(docs: (FioDocument | undefined)[], send: boolean): { bytes: number; mib_per_second: number } {
  let bytes = 0;
  let bw = 0;
  for (const job of docs.flatMap((doc) => doc?.jobs ?? [])) {
    if (job.error !== 0) continue;
    bytes += side(job, send).io_bytes;
    bw += side(job, send).bw;
  }
  return { bytes, mib_per_second: round(mibPerSecond({ bw }), 2) };
}

/** Runs the connecting side until every port has paired once and every paired fio has ended. */
export async function connectAllPorts(
  ctx: StepContext,
  direction: ConnectDirection,
  options: ConnectOptions,
): Promise<ConnectResult> {
  const all = Array.from({ length: FIO_NETWORK_JOBS }, (_, n) => options.port + n);
  const pending = new Set(all);
  const deadline = options.pairingTimeoutSeconds === undefined ? Infinity : Date.now() + options.pairingTimeoutSeconds * 1000;
  // Stops the runs still going when the direction fails (the step's abort stops them too).
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const attempts: Attempt[] = [];
  const paired: Attempt[] = [];
  let waitingSince = Date.now();
  let refusedAttempts = 0;
  const onDocument = () => {
    if (paired.length === 0) return;
    const now = figures(
      paired.map((a) => a.stream.last),
      direction.send,
    );
    options.progress.part(options.name, { state: 'running', ...now, ports_paired: all.length - pending.size });
  };
  try {
    while (pending.size > 0) {
      if (paired.length === 0) options.progress.part(options.name, { state: 'connecting' });
      const attempt = startAttempt(ctx, signal, direction, [...pending], { ...options, onDocument });
      attempts.push(attempt);
      const { paired: now, refused } = await attempt.decided;
      for (const port of now) pending.delete(port);
      if (now.length > 0) {
        paired.push(attempt);
        waitingSince = Date.now();
        onDocument();
      }
      if (pending.size === 0) break;
      const unexplained = attempt.ports.filter((p) => !now.includes(p) && !refused.includes(p));
      if (unexplained.length > 0) {
        // A job failed otherwise than by a refused connection: that is the tool's failure.
        const { error } = await attempt.done;
        attempt.output.close();
        throw toolFailure(
          'fio (network)',
          error ?? new Error(`fio left ports ${unexplained.join(', ')} unpaired`),
          attempt.stream.otherOutput,
        );
      }
      if (now.length === 0) {
        // Nothing listened. Its held output is a retry, not news.
        await attempt.done;
        attempt.output.drop();
      }
      const retryMs = now.length > 0 ? FOLLOW_UP_MS : Date.now() - waitingSince < SLOW_RETRY_AFTER_MS ? RETRY_MS : SLOW_RETRY_MS;
      if (Date.now() + retryMs >= deadline) {
        throw toolFailure(
          'fio (network)',
          (await attempt.done).error ?? new Error('the partner is not listening'),
          attempt.stream.otherOutput,
        );
      }
      refusedAttempts++;
      if (paired.length === 0) {
        // Between attempts the reader waits, not connects: what command_progress says.
        options.progress.part(options.name, { state: 'waiting for the partner to listen', refused_attempts: refusedAttempts });
      }
      ctx.log.info(
        { partner: direction.host, ports: [...pending] },
        paired.length === 0
          ? `fio (network): partner not listening yet, retrying in ${retryMs / 1000} s`
          : `fio (network): ${all.length - pending.size} of ${all.length} ports paired, the others refused: retrying them in ${retryMs / 1000} s`,
      );
      await sleep(retryMs, undefined, { signal: ctx.signal });
    }
    const ends = await Promise.all(paired.map((a) => a.done));
    for (const [index, end] of ends.entries()) {
      paired[index]!.output.close();
      // fio exits non-zero when a job failed: refused jobs (their ports paired in another run)
      // are expected; a paired job that failed, or no report, is the tool's failure.
      const broken = end.doc?.jobs.some((job) => job.error !== 0 && !NOT_LISTENING.has(job.error)) ?? true;
      if (end.error !== undefined && broken) throw toolFailure('fio (network)', end.error, paired[index]!.stream.otherOutput);
    }
    const jobs = ends.flatMap((end) => end.doc?.jobs ?? []).filter((job) => !NOT_LISTENING.has(job.error));
    const failedRun = ends.findIndex((end) => end.doc?.jobs.some((job) => job.error !== 0 && !NOT_LISTENING.has(job.error)));
    return {
      ...figures(
        ends.map((end) => end.doc),
        direction.send,
      ),
      errors: jobs.reduce((sum, job) => sum + (job.total_err ?? 0), 0),
      job_error: jobs.find((job) => job.error !== 0)?.error ?? 0,
      fioSaid: failedRun >= 0 ? paired[failedRun]!.stream.otherOutput : '',
      ports_paired: all.length,
      paired_attempts: paired.length,
      reports: ends.flatMap((end) => (end.doc && end.text ? [{ doc: end.doc, text: end.text }] : [])),
    };
  } finally {
    stop.abort();
    // Every run's outcome is settled here, so that none is left unhandled.
    await Promise.all(attempts.map((a) => a.done));
  }
}
