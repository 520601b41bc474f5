/**
 * A step context for tests: everything a step can do is recorded (progress updates, log lines,
 * `ctx.exec` calls, dispatches), and `exec` is either answered by the test or real.
 */
import { DeviceGuard } from '../hardware/device-guard.js';
import { HardwareManagerMethodNotFound } from '../hardware/errors.js';
import { run, type ExecOptions, type ExecResult } from '../hardware/exec.js';
import type { LogFn, Logger } from '../shared/logger.js';
import { DEFAULT_HARDWARE_SETTINGS, type HardwareSettings } from '../hardware/settings.js';
import type { StepPhase } from '../hardware/step.js';
import type {
  IronicNode,
  IronicPort,
  ManagerMethodArgs,
  ManagerMethodName,
  ManagerMethodResult,
  StepContext,
} from '../hardware/step-context.js';

export interface RecordedExec {
  file: string;
  args: readonly string[];
  options: ExecOptions | undefined;
}

export interface RecordedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** Answers a recorded `ctx.exec` call: return a partial result, or throw (e.g. an `ExecError`). */
export type ExecResponder = (
  file: string,
  args: readonly string[],
  options?: ExecOptions,
) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

export interface FakeStepContextOptions {
  phase?: StepPhase;
  node?: IronicNode;
  ports?: IronicPort[];
  /** `'real'` runs programs for real (through the agent's exec); a function answers each call; default: exit 0, no output. */
  exec?: 'real' | ExecResponder;
  /** Devices destructive code may write (allow-listed in the guard), e.g. a scratch loop device. */
  allowDevices?: string[];
  settings?: Partial<HardwareSettings>;
  /** The manager's own settings as the agent hands them in (`ctx.managerSettings`), already validated. */
  managerSettings?: Record<string, unknown>;
  /** Answers `ctx.dispatch(method, ctx, ...args)`; without it every dispatch is HardwareManagerMethodNotFound. */
  dispatch?: (method: ManagerMethodName, ...args: unknown[]) => unknown;
  signal?: AbortSignal;
}

export interface FakeStepContext {
  ctx: StepContext;
  /** Every `ctx.progress.update()` value, in order (each a JSON copy, as the agent keeps it). */
  progress: Record<string, unknown>[];
  logs: RecordedLog[];
  execCalls: RecordedExec[];
  /** Every `ctx.dispatch`, its arguments as passed (the context first). */
  dispatches: { method: ManagerMethodName; args: unknown[] }[];
}

function recordingLogger(sink: RecordedLog[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: RecordedLog['level']): LogFn =>
    (a: object | string, b?: string) => {
      if (typeof a === 'string') sink.push({ level, msg: a, fields: { ...bindings } });
      else sink.push({ level, msg: b ?? '', fields: { ...bindings, ...(a as Record<string, unknown>) } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(sink, { ...bindings, ...more }),
  };
}

export function createFakeStepContext(options: FakeStepContextOptions = {}): FakeStepContext {
  const recorded: FakeStepContext = {
    ctx: undefined as unknown as StepContext,
    progress: [],
    logs: [],
    execCalls: [],
    dispatches: [],
  };
  const log = recordingLogger(recorded.logs);
  const signal = options.signal ?? new AbortController().signal;
  const responder = options.exec;
  recorded.ctx = {
    node: options.node ?? {
      uuid: '00000000-0000-4000-8000-000000000000',
      properties: {},
      instance_info: {},
      driver_info: {},
      driver_internal_info: {},
    },
    ports: options.ports ?? [],
    phase: options.phase ?? 'clean',
    log,
    progress: {
      update(progress) {
        // The agent refuses what JSON cannot carry; so does the fake, so tests catch it.
        const json = JSON.stringify(progress);
        if (json === undefined || typeof progress !== 'object') throw new TypeError('progress must be a JSON object');
        recorded.progress.push(JSON.parse(json) as Record<string, unknown>);
      },
    },
    signal,
    guard: new DeviceGuard({ allowList: options.allowDevices ?? [] }),
    settings: { ...DEFAULT_HARDWARE_SETTINGS, ...options.settings },
    managerSettings: Object.freeze({ ...options.managerSettings }),
    async exec(file, args = [], execOptions) {
      recorded.execCalls.push({ file, args: [...args], options: execOptions });
      if (responder === 'real') return run(file, args, { logger: log, signal, ...execOptions });
      const answer = responder ? await responder(file, args, execOptions) : {};
      return { command: [file, ...args].join(' '), exitCode: 0, stdout: '', stderr: '', durationMs: 0, ...answer };
    },
    async dispatch<K extends ManagerMethodName>(method: K, ...args: ManagerMethodArgs<K>): Promise<ManagerMethodResult<K>> {
      recorded.dispatches.push({ method, args });
      if (!options.dispatch) throw new HardwareManagerMethodNotFound(method);
      return (await options.dispatch(method, ...args)) as ManagerMethodResult<K>;
    },
  };
  return recorded;
}
