/**
 * The one place the code base starts external programs (lsblk, wipefs, shred, sgdisk, ...).
 *
 * Every call is logged with its command line, bounded by a timeout, abortable, and a
 * failure becomes an `ExecError` carrying the exit code and stderr, so a step's error
 * message says what the tool said.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defineIpaError, HARDWARE_ERRORS } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { redactor, secretsIn } from './exec-secrets.js';
import { ProcessTree } from './process-tree.js';

export interface ExecOptions {
  /** Kill the program after this long (default 5 minutes; long erases pass their own). */
  timeoutMs?: number;
  /** Exit codes that are not failures (default: only 0). */
  okExitCodes?: readonly number[];
  input?: string | Buffer;
  env?: Record<string, string>;
  /**
   * The program's working directory (default: the agent's). For tools that read files next
   * to themselves, as gpu-burn reads its compare.ptx from the current directory.
   */
  cwd?: string;
  signal?: AbortSignal;
  /** Called with each complete output line (secrets redacted) while the program runs (progress parsing). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * `false`: stdout goes only to `onLine` and is not kept (`stdout` is empty), and of stderr
   * only the last 16 KiB are kept (`stderr`, and an ExecError's message). For tools that
   * report for hours (fio's periodic JSON, gpu-burn's status): kept, their output would grow
   * without bound. fio prints a line on stderr per bad block it verifies and carries on, so a
   * failing disk made the agent hold gigabytes and then put them all in the step's error.
   */
  keepStdout?: boolean;
  /**
   * `background`: run under `nice`/`ionice` so that heartbeats and the API stay responsive
   * while a long erase or copy runs.
   */
  priority?: 'normal' | 'background';
  logger?: Logger;
  /** Do not log stdout on success (large or sensitive outputs). */
  quiet?: boolean;
  /**
   * Values to redact from the command line and output in logs, errors and the result; values
   * after well-known secret flags (`--password`, `--token`, ... see exec-secrets.ts) always are.
   */
  secrets?: readonly string[];
}

export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** How hardware code starts a program: `run` with the agent's logger and signal bound. */
export type Exec = (file: string, args?: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** The bound of one clean-up command started by `cleanupExec` (unless the caller asks less). */
export const CLEANUP_TIMEOUT_MS = 60_000;

/**
 * `exec` for the clean-up after a failed or aborted write (unlock a drive, drop a half-written
 * partition table): without the step's signal, because an abort or the agent's shutdown is
 * often what failed the write, and an aborted exec starts nothing; bounded by its own timeout
 * instead. The agent waits for the command's function to return before it exits or resets,
 * so the clean-up finishes first.
 */
export function cleanupExec(exec: Exec, timeoutMs = CLEANUP_TIMEOUT_MS): Exec {
  return (file, args, options) =>
    exec(file, args, { ...options, signal: undefined, timeoutMs: Math.min(options?.timeoutMs ?? timeoutMs, timeoutMs) });
}

export class ExecError extends defineIpaError(HARDWARE_ERRORS.ExecError) {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly stdout: string;
  readonly reason: 'exit' | 'timeout' | 'aborted' | 'not-found' | 'spawn';

  constructor(init: {
    command: string;
    exitCode?: number;
    stdout?: string;
    stderr?: string;
    reason: ExecError['reason'];
    cause?: unknown;
  }) {
    const what = {
      exit: `exited with code ${init.exitCode}`,
      timeout: 'timed out',
      aborted: 'was aborted',
      'not-found': 'is not installed',
      spawn: 'could not be started',
    }[init.reason];
    const stderr = (init.stderr ?? '').trim();
    super(`${init.command} ${what}${stderr ? `: ${stderr}` : ''}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.command = init.command;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr ?? '';
    this.stdout = init.stdout ?? '';
    this.reason = init.reason;
  }
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** Between SIGTERM to an aborted or timed-out tool's processes and SIGKILL. */
const KILL_GRACE_MS = 5_000;
/** setTimeout fires at once for a longer delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const BACKGROUND_PREFIX = ['nice', '-n', '10', 'ionice', '-c', '2', '-n', '7'];

/**
 * Tools die with the agent, even with `kill -9`, which runs no code of ours: Linux's
 * parent-death signal (PR_SET_PDEATHSIG) is set by util-linux's `setpriv` before it execs the
 * tool (nice/ionice exec in turn; the setting survives exec of a non-setuid program). Node
 * cannot call prctl itself, and a process group or an exit handler only helps when the agent
 * gets to run its shutdown. The signal follows the thread that forked: libuv forks on the
 * main thread, which lives as long as the process. It reaches the tool only, not what the tool
 * started: process-tree.ts says how those end. Without setpriv (a minimal image) tools still
 * stop with an orderly shutdown (abort), and the device guard refuses a device some other
 * process holds open for writing.
 */
const PARENT_DEATH_PREFIX = ['setpriv', '--pdeathsig', 'KILL', '--'];
let parentDeathWrapper: Promise<boolean> | undefined;
const resolvedTools = new Map<string, string>();

/**
 * The absolute path of `file` on PATH, or `file` itself when it names a path (relative to
 * `cwd`), if it is executable: a missing tool is "not installed", not a wrapper's exit 127.
 */
async function resolveTool(file: string, cwd?: string): Promise<string | undefined> {
  if (file.includes('/')) {
    return access(resolve(cwd ?? '.', file), constants.X_OK).then(
      () => file,
      () => undefined,
    );
  }
  const known = resolvedTools.get(file);
  if (known) return known;
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean)) {
    const candidate = join(dir, file);
    try {
      await access(candidate, constants.X_OK);
      resolvedTools.set(file, candidate);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(quote).join(' ');
}

export async function run(file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
  return runTool(file, args, options, KILL_GRACE_MS);
}

/**
 * `run` with the grace period between SIGTERM and SIGKILL of an aborted or timed-out tool's
 * processes given (tests shorten it; not in ExecOptions, so not part of the plugin contract).
 */
export async function runTool(
  file: string,
  args: readonly string[],
  options: ExecOptions,
  killGraceMs: number,
): Promise<ExecResult> {
  const log = options.logger ?? silentLogger;
  const hide = redactor(secretsIn(args, options.secrets));
  const command = hide(formatCommand(file, args));
  // An aborted command starts nothing more (its clean-up runs without the signal).
  if (options.signal?.aborted) throw new ExecError({ command, reason: 'aborted' });
  parentDeathWrapper ??= resolveTool('setpriv').then((path) => path !== undefined);
  let tool = file;
  if (await parentDeathWrapper) {
    const resolved = await resolveTool(file, options.cwd);
    if (!resolved) throw new ExecError({ command, reason: 'not-found' });
    tool = resolved;
  }
  const argv = [
    ...((await parentDeathWrapper) ? PARENT_DEATH_PREFIX : []),
    ...(options.priority === 'background' ? BACKGROUND_PREFIX : []),
    tool,
    ...args,
  ];
  const [bin, ...rest] = argv as [string, ...string[]];
  const started = performance.now();
  log.debug({ command }, 'exec');

  // Loaded on first use: execa is a large module graph and the API must answer before any
  // tool has to run.
  const { execa } = await import('execa');
  if (options.signal?.aborted) throw new ExecError({ command, reason: 'aborted' });
  const streamed = options.onLine !== undefined && options.keepStdout === false;
  const tree = new ProcessTree();
  // Timeout and abort are handled here, not by execa's `timeout`/`cancelSignal`, which signal
  // the started program only: process-tree.ts ends everything it started. `detached` makes
  // the program the leader of its own process group (and session); execa's exit cleanup
  // does not apply to a detached program, process-tree.ts's exit hook replaces it.
  const child = execa(bin, rest, {
    reject: false,
    detached: true,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    // Tools print in the C locale: the parsers depend on it.
    env: { LC_ALL: 'C', ...options.env, ...tree.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stripFinalNewline: false,
    encoding: 'utf8',
    ...(options.onLine ? { buffer: !streamed } : {}),
  });
  tree.attach(child.pid, () => child.exitCode === null && child.signalCode === null);
  let stopped: 'aborted' | 'timeout' | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: 'aborted' | 'timeout') => {
    if (stopped) return;
    stopped = why;
    stopping = tree.stop(killGraceMs);
  };
  const onAbort = () => stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = timeoutMs > 0 ? setTimeout(() => stop('timeout'), Math.min(timeoutMs, MAX_TIMER_MS)) : undefined;

  const stderrTail = streamed ? new TextTail(STREAMED_STDERR_BYTES) : undefined;
  if (options.onLine) {
    const onLine = options.onLine;
    // Redacted as the kept output is: callers log these lines or put them in errors.
    attachLineReader(child.stdout, (line) => onLine(hide(line), 'stdout'));
    attachLineReader(child.stderr, (line) => {
      stderrTail?.add(line);
      onLine(hide(line), 'stderr');
    });
  }

  let result: Awaited<typeof child>;
  try {
    result = await child;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    // An aborted or timed-out command returns once its whole tree is gone.
    await stopping;
    tree.detach();
  }
  const durationMs = Math.round(performance.now() - started);
  const stdout = hide(String(result.stdout ?? ''));
  const stderr = hide(stderrTail ? stderrTail.text() : String(result.stderr ?? ''));

  if (stopped) throw new ExecError({ command, stdout, stderr, reason: stopped });
  if (result.exitCode === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    throw new ExecError({ command, stderr, reason: code === 'ENOENT' ? 'not-found' : 'spawn', cause: result.cause });
  }
  const exitCode = result.exitCode;
  const ok = options.okExitCodes ?? [0];
  if (!ok.includes(exitCode)) {
    log.warn({ command, exitCode, stderr: stderr.trim(), durationMs }, 'command failed');
    throw new ExecError({ command, exitCode, stdout, stderr, reason: 'exit' });
  }
  log.debug({ command, exitCode, durationMs, ...(options.quiet ? {} : { stdout: stdout.slice(0, 2000) }) }, 'exec done');
  return { command, exitCode, stdout, stderr, durationMs };
}

/** What is kept of a streamed tool's stderr (`keepStdout: false`). */
const STREAMED_STDERR_BYTES = 16 * 1024;

/** The last lines of a stream, about `limit` characters, and how much was left out before them. */
class TextTail {
  readonly #limit: number;
  #text = '';
  #dropped = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  add(line: string): void {
    this.#text += line + '\n';
    // Cut when twice the limit: each cut copies at most `limit` characters.
    if (this.#text.length > 2 * this.#limit) this.#cut();
  }

  text(): string {
    this.#cut();
    return this.#dropped > 0 ? `[${this.#dropped} earlier characters left out]\n${this.#text}` : this.#text;
  }

  #cut(): void {
    const length = this.#text.length;
    if (length <= this.#limit) return;
    // From a line start where one is within the limit, else the last `limit` characters.
    let from = this.#text.indexOf('\n', length - this.#limit) + 1;
    if (from <= 0 || from >= length) from = length - this.#limit;
    this.#dropped += from;
    this.#text = this.#text.slice(from);
  }
}

function attachLineReader(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.on('data', (chunk: Buffer | string) => {
    pending += chunk.toString();
    // shred and dd end progress lines with \r as well as \n.
    const parts = pending.split(/\r?\n|\r/);
    pending = parts.pop() ?? '';
    for (const line of parts) if (line.length > 0) onLine(line);
  });
  stream.on('end', () => {
    if (pending.length > 0) onLine(pending);
    pending = '';
  });
}

/**
 * True when `file` can be found on PATH (or, given as a path, is executable): optional tools
 * (nvme, hdparm) degrade, not crash.
 */
export async function hasCommand(file: string): Promise<boolean> {
  if (file.includes('/'))
    return access(file, constants.X_OK).then(
      () => true,
      () => false,
    );
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean);
  for (const dir of dirs) {
    try {
      await access(join(dir, file), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
