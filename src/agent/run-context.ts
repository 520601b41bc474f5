/**
 * The context a running command's function gets (`CommandContext`), made by the runner.
 *
 * A class so that `signal` is one getter on its prototype. As a getter in an object literal
 * it was a new function per command, and V8 gave every command's context a hidden class of
 * its own (an accessor is part of the shape). Those shapes live in old space until a
 * mark-compact and point at the getter, so each command's closures, parsed params and result
 * outlived every scavenge until then: ~3 KB of each `get_clean_steps` was copied and promoted,
 * 72 KB and 0.2–0.4 ms a scavenge, against 1 KB with the shared getter (--trace-gc-nvp).
 */
import type { Logger } from '../hardware/logger.js';
import type { ProgressReporter } from '../hardware/step-context.js';
import type { CommandContext } from './command.js';
import type { LazyAbort } from './lazy-abort.js';
import type { AgentServices } from './services.js';

export class RunContext implements CommandContext {
  readonly services: AgentServices;
  readonly log: Logger;
  readonly progress: ProgressReporter;
  readonly commands: CommandContext['commands'];
  readonly #controller: LazyAbort;

  constructor(
    services: AgentServices,
    log: Logger,
    progress: ProgressReporter,
    commands: CommandContext['commands'],
    controller: LazyAbort,
  ) {
    this.services = services;
    this.log = log;
    this.progress = progress;
    this.commands = commands;
    this.#controller = controller;
  }

  /** Made on first use (LazyAbort): most commands never ask. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * The same command's context with another logger, for a command it runs inline (`flow`):
   * the same signal, progress and commands. Not `{ ...ctx }`: a spread leaves the getter out.
   */
  withLog(log: Logger): RunContext {
    return new RunContext(this.services, log, this.progress, this.commands, this.#controller);
  }
}
