/**
 * What a step receives besides its args: the node and ports Ironic sent, and the agent's
 * services (logging, progress, cancellation, the device guard, the exec wrapper).
 */
import type { DeviceGuard } from './device-guard.js';
import type { ExecOptions, ExecResult } from './exec.js';
import type { Logger } from './logger.js';
import type { HardwareSettings } from './settings.js';

/** Ironic's node as sent to the agent (`node.as_dict(secure=True)`); only a few keys are typed. */
export interface IronicNode {
  uuid?: string;
  name?: string | null;
  properties?: Record<string, unknown>;
  instance_info?: Record<string, unknown>;
  driver_info?: Record<string, unknown>;
  driver_internal_info?: Record<string, unknown>;
  target_raid_config?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IronicPort {
  address?: string;
  [key: string]: unknown;
}

/** Live progress of a long step, shown as `command_progress` while the command runs. */
export interface ProgressReporter {
  /** Replace the progress object; it must be JSON-serialisable. */
  update(progress: Record<string, unknown>): void;
}

export type Exec = (file: string, args?: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface StepContext {
  node: IronicNode;
  ports: IronicPort[];
  phase: 'clean' | 'deploy' | 'service';
  log: Logger;
  progress: ProgressReporter;
  /** Aborted when the agent shuts down; long work should pass it on to `exec`. */
  signal: AbortSignal;
  guard: DeviceGuard;
  exec: Exec;
  /** The agent's settings hardware code reads (download retries, md5, TLS); IPA's defaults when absent. */
  settings?: HardwareSettings;
  /** Call another manager method by name, as IPA's `dispatch_to_managers` does. */
  dispatch<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
}
