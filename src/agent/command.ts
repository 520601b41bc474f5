/**
 * How an extension declares its commands: a name, sync or async, a zod schema for the
 * params (a mismatch is a 400 `Invalid command parameters: ...`), and the function.
 */
import type { z } from 'zod';
import type { Logger } from '../hardware/logger.js';
import type { ProgressReporter } from '../hardware/step-context.js';
import type { AgentServices } from './services.js';

export interface CommandContext {
  services: AgentServices;
  log: Logger;
  progress: ProgressReporter;
  signal: AbortSignal;
  /**
   * Other commands, run inline (IPA's `ExecuteCommandMixin`, used by `flow.start_flow`):
   * `resolve` throws IPA's 404/400 for an unknown extension/command; `invoke` validates and
   * runs one to completion without the busy check and without storing a result. It rejects
   * with the command's own error when its input is bad (a 400 from its params or validator,
   * or from a sync command), and with `SubcommandFailed` when it ran and failed.
   */
  commands: {
    resolve(fullName: string): CommandDefinition;
    invoke(fullName: string, params: Record<string, unknown>): Promise<unknown>;
  };
}

type CommandMode = 'sync' | 'async';

export interface CommandDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  mode: CommandMode;
  params: S;
  /** Extra synchronous checks (IPA's validators): throw an `InvalidContentError` for a 400. */
  validate?: (params: z.output<S>, ctx: CommandContext) => void | Promise<void>;
  run: (params: z.output<S>, ctx: CommandContext) => unknown;
}

export interface Extension {
  name: string;
  commands: readonly CommandDefinition<any>[];
}

export function defineCommand<S extends z.ZodType>(definition: CommandDefinition<S>): CommandDefinition<S> {
  return definition;
}

export function defineExtension(name: string, commands: readonly CommandDefinition<any>[]): Extension {
  const seen = new Set<string>();
  for (const command of commands) {
    if (seen.has(command.name)) throw new TypeError(`Extension "${name}" declares command "${command.name}" twice`);
    seen.add(command.name);
  }
  return { name, commands };
}

/**
 * A command run by `invoke` failed while running (IPA: its result is FAILED), as opposed to
 * refusing its input, which IPA's `execute_command` re-raises as the caller's error.
 */
export class SubcommandFailed extends Error {
  constructor(
    readonly command: string,
    cause: unknown,
  ) {
    super(`${command} failed`, { cause });
  }
}
