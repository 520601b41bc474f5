/**
 * Runs commands one at a time, as IPA does: a command may start only when the previous
 * one has finished (409 otherwise). Sync commands run to completion before the HTTP
 * answer; async ones answer RUNNING at once and are polled.
 */
import { EventEmitter } from 'node:events';
import { isIpaError, VersionMismatch, CommandExecutionError, type WireError } from '../hardware/errors.js';
import type { Logger } from '../hardware/logger.js';
import { lazyChild } from '../shared/logger.js';
import { formatZodError } from '../hardware/zod-error.js';
import { CommandResult } from './command-result.js';
import { LazyAbort } from './lazy-abort.js';
import { RunContext } from './run-context.js';
import { SubcommandFailed, type CommandContext, type CommandDefinition, type Extension } from './command.js';
import { AgentIsBusy, InvalidCommandError, InvalidCommandParamsError, RequestedObjectNotFoundError } from './errors.js';
import type { AgentServices } from './services.js';

/**
 * Results kept for `GET /v1/commands/`. IPA keeps every result forever, so its list (and
 * latency) grows for the life of the process; Ironic only ever reads the last one. The
 * oldest finished results are dropped beyond this count.
 */
const MAX_KEPT_RESULTS = 1000;
/**
 * And by bytes: 300 results echoing 1 MiB each held ~1 GB. Large echoed arguments are elided
 * (redact.ts), but a result can still be large (a log bundle); past this total the oldest
 * finished results are dropped, never the last one (the only one Ironic reads).
 */
const MAX_KEPT_RESULT_BYTES = 32 * 1024 * 1024;
const LIST_OPEN = Buffer.from('{"commands":[');
const COMMA = Buffer.from(',');
const LIST_CLOSE = Buffer.from(']}');

/**
 * How long a new command waits for an aborted one to end (its tools killed and reaped, its
 * clean-up done) before it is refused with 409. Killed tools exit at once; a tool stuck in
 * the kernel gets SIGKILL after 5 s from the exec wrapper.
 */
const DRAIN_WAIT_MS = 20_000;

/** The command whose function is running, and how to stop it. */
interface InFlight {
  name: string;
  result: CommandResult;
  controller: LazyAbort;
  /** Settles when the command's function has returned or thrown (never rejects). */
  settled: Promise<void>;
}

export interface CommandRunnerEvents {
  /** An async command finished (any outcome): the heartbeater sends an early heartbeat. */
  'async-command-finished': [CommandResult];
}

export class CommandRunner extends EventEmitter<CommandRunnerEvents> {
  readonly #extensions = new Map<string, Map<string, CommandDefinition>>();
  readonly #results = new Map<string, CommandResult>();
  readonly #services: AgentServices;
  readonly #log: Logger;
  readonly #shutdown = new AbortController();
  #inFlight: InFlight | undefined;
  #draining: Promise<void> | undefined;
  #last: CommandResult | undefined;
  #listCache: Buffer | undefined;
  #listCacheFor: CommandResult | undefined;
  /** Wire bytes of the finished results in #results (kept up to date, not summed per command). */
  #doneBytes = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set while the extensions load (the agent may answer its API before): commands wait for it. */
  #loading: Promise<void> | undefined;

  constructor(extensions: readonly Extension[] | Promise<readonly Extension[]>, services: AgentServices) {
    super();
    this.#services = services;
    this.#log = services.log;
    if (!(extensions instanceof Promise)) {
      this.#register(extensions);
      return;
    }
    this.#loading = extensions.then((loaded) => {
      this.#register(loaded);
      this.#loading = undefined;
    });
    this.#loading.catch(() => undefined); // a command waiting for it gets the error
  }

  #register(extensions: readonly Extension[]): void {
    for (const extension of extensions) {
      if (this.#extensions.has(extension.name)) throw new TypeError(`Extension "${extension.name}" registered twice`);
      this.#extensions.set(extension.name, new Map(extension.commands.map((c) => [c.name, c])));
    }
  }

  /** Every known `extension.command` name. */
  commandNames(): string[] {
    return [...this.#extensions].flatMap(([ext, cmds]) => [...cmds.keys()].map((c) => `${ext}.${c}`));
  }

  get(id: string): CommandResult {
    const result = this.#results.get(id);
    if (!result) throw new RequestedObjectNotFoundError('Command Result', id);
    return result;
  }

  list(): CommandResult[] {
    return [...this.#results.values()];
  }

  /**
   * `{"commands":[...]}`. Finished results are serialised once; the whole body is reused
   * until a command is added or the last one (the only one that can be running) changes.
   */
  listJSON(): string {
    return this.listBody().toString();
  }

  listBody(): Buffer {
    const last = this.#last;
    if (this.#listCache && this.#listCacheFor === last && (last === undefined || last.isDone)) return this.#listCache;
    // Joined as bytes: the results already are, and a 1.6 MB string would land in old space.
    const parts: Buffer[] = [LIST_OPEN];
    for (const result of this.#results.values()) {
      if (parts.length > 1) parts.push(COMMA);
      parts.push(...result.toJSONParts());
    }
    parts.push(LIST_CLOSE);
    const built = Buffer.concat(parts);
    // Only a list whose last command has finished may be cached: one built while it was
    // RUNNING would otherwise be served after it finished (the conductor would wait forever).
    if (last === undefined || last.isDone) {
      this.#listCache = built;
      this.#listCacheFor = last;
    } else {
      this.#listCache = undefined;
    }
    return built;
  }

  /**
   * Forget every result, as IPA does after a reboot (we do after a new lookup token), and
   * end the command still running: a machine that was power-cycled runs nothing, so its
   * tools must not keep writing beside the next command. Resolves once that command's
   * function has returned, i.e. its tools were killed and have exited; until then a new
   * command waits (`execute`).
   */
  async reset(reason = 'the conductor restarted this node'): Promise<void> {
    this.#results.clear();
    this.#doneBytes = 0;
    this.#last = undefined;
    this.#listCache = undefined;
    await this.#abortInFlight(reason);
  }

  /** Abort the running command (agent shutdown) and any later one. */
  abortAll(reason = 'agent is shutting down'): void {
    this.#shutdown.abort(new Error(reason));
    void this.#abortInFlight(reason);
  }

  /** Resolves when no command function is running any more (shutdown waits for it). */
  async drained(): Promise<void> {
    while (this.#inFlight) await this.#inFlight.settled;
  }

  async #abortInFlight(reason: string): Promise<void> {
    const inFlight = this.#inFlight;
    if (!inFlight) return;
    if (!inFlight.controller.aborted) {
      this.#log.warn({ command: inFlight.name, command_id: inFlight.result.id, reason }, 'aborting the running command');
      inFlight.controller.abort(new Error(`${inFlight.name} was aborted: ${reason}`));
    }
    const draining = inFlight.settled;
    this.#draining = draining;
    await draining;
    if (this.#draining === draining) this.#draining = undefined;
  }

  /** Waits (bounded) for an aborted command to end; 409 if it does not. */
  async #awaitDrain(): Promise<void> {
    const draining = this.#draining;
    if (!draining) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      draining.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), DRAIN_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (timedOut) throw new AgentIsBusy(`${this.#inFlight?.name ?? 'a command'} (aborted, waiting for its processes to exit)`);
  }

  /** Runs `body` as the one in-flight command; its signal aborts on reset or shutdown. */
  #track<T>(name: string, result: CommandResult, controller: LazyAbort, body: () => Promise<T>): Promise<T> {
    const running = body();
    const inFlight: InFlight = {
      name,
      result,
      controller,
      settled: running.then(
        () => undefined,
        () => undefined,
      ),
    };
    this.#inFlight = inFlight;
    void inFlight.settled.then(() => {
      if (this.#inFlight === inFlight) this.#inFlight = undefined;
    });
    return running;
  }

  /**
   * Validate and start a command. Throws (and stores nothing) for the HTTP-level failures:
   * bad name, unknown extension or command, invalid params, busy.
   */
  execute(name: string, params: Record<string, unknown>): Promise<CommandResult> {
    // Serialise: a sync command holds the line until it ends, as IPA's lock does.
    const run = this.#queue.then(() => this.#execute(name, params));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** `ext.cmd` → its definition; 404 for an unknown extension, 400 for an unknown command. */
  #resolve(fullName: string): CommandDefinition {
    const dot = fullName.indexOf('.');
    if (dot < 0) throw new InvalidCommandError('Command name must be of the form <extension>.<name>');
    const extensionName = fullName.slice(0, dot);
    const commandName = fullName.slice(dot + 1);
    const extension = this.#extensions.get(extensionName);
    if (!extension) throw new RequestedObjectNotFoundError('Extension', extensionName);
    const command = extension.get(commandName);
    if (!command) throw new InvalidCommandError(`Unknown command: ${commandName}`);
    return command;
  }

  /** Runs a command inside another (flow): validated, not stored, no busy check. */
  async #invoke(fullName: string, rawParams: Record<string, unknown>, parent: RunContext): Promise<unknown> {
    const command = this.#resolve(fullName);
    const parsed = command.params.safeParse(rawParams);
    if (!parsed.success) throw new InvalidCommandParamsError(formatZodError(parsed.error));
    const ctx = parent.withLog(parent.log.child({ subcommand: fullName }));
    if (command.validate) await command.validate(parsed.data, ctx);
    try {
      return wrapResult(await command.run(parsed.data, ctx), command.name, command.mode);
    } catch (error) {
      // IPA's execute_command re-raises an InvalidContentError a sync command raises, as a
      // top-level call answers it with 400 (#execute); an async command's failure, whatever
      // its error, is only its result's FAILED status.
      if (command.mode === 'sync' && isIpaError(error) && error.code === 400) throw error;
      throw new SubcommandFailed(fullName, error);
    }
  }

  async #execute(fullName: string, rawParams: Record<string, unknown>): Promise<CommandResult> {
    if (this.#loading) await this.#loading;
    // One writer per disk: nothing starts while an aborted command's tools may still write.
    if (this.#draining) await this.#awaitDrain();
    if (this.#last && !this.#last.isDone) throw new AgentIsBusy(this.#last.name);
    const command = this.#resolve(fullName);

    const parsed = command.params.safeParse(rawParams);
    if (!parsed.success) {
      throw new InvalidCommandParamsError(formatZodError(parsed.error));
    }
    const params: unknown = parsed.data;
    const result = new CommandResult(command.name);
    const log = lazyChild(this.#log, { command: fullName, command_id: result.id });
    const controller = new LazyAbort();
    if (this.#shutdown.signal.aborted) controller.abort(this.#shutdown.signal.reason);
    const ctx: RunContext = new RunContext(
      this.#services,
      log,
      { update: (progress) => result.setProgress(progress) },
      {
        resolve: (name) => this.#resolve(name),
        invoke: (name, subParams) => this.#invoke(name, subParams, ctx),
      },
      controller,
    );

    if (command.validate) await command.validate(params, ctx);

    if (command.mode === 'sync') {
      try {
        const value = await this.#track(command.name, result, controller, async () => command.run(params, ctx));
        result.succeed(wrapResult(value, command.name, 'sync'));
      } catch (error) {
        // IPA lets content errors raised by a sync command become a 400; anything else is
        // recorded as a FAILED result and answered with 200.
        if (isIpaError(error) && error.code === 400) throw error;
        log.error({ err: error }, 'command failed');
        result.fail(wireErrorOf(error));
      }
      this.#store(result);
      return result;
    }

    this.#store(result);
    log.info('command started');
    void this.#track(command.name, result, controller, () => this.#runAsync(command, params, ctx, result, log));
    return result;
  }

  async #runAsync(command: CommandDefinition, params: unknown, ctx: CommandContext, result: CommandResult, log: Logger) {
    try {
      result.succeed(wrapResult(await command.run(params, ctx), command.name, 'async'));
      log.info({ durationMs: Date.now() - result.startedAt }, 'command succeeded');
    } catch (error) {
      if (VersionMismatch.is(error)) {
        log.warn({ err: error }, 'hardware manager versions changed since the steps were listed');
        result.fail(error.toWire(), 'CLEAN_VERSION_MISMATCH');
      } else {
        log.error({ err: error, durationMs: Date.now() - result.startedAt }, 'command failed');
        result.fail(wireErrorOf(error));
      }
    }
    // A result forgotten by reset() belongs to a node's previous life: nobody waits for it.
    if (this.#results.get(result.id) !== result) return;
    this.#doneBytes += result.wireBytes;
    this.#evict();
    this.emit('async-command-finished', result);
  }

  #store(result: CommandResult): void {
    this.#listCache = undefined;
    this.#results.set(result.id, result);
    if (result.isDone) this.#doneBytes += result.wireBytes;
    this.#last = result;
    this.#evict();
  }

  /** Drops the oldest finished results beyond the count and byte bounds (never the last). */
  #evict(): void {
    for (const [id, old] of this.#results) {
      if (this.#results.size <= MAX_KEPT_RESULTS && this.#doneBytes <= MAX_KEPT_RESULT_BYTES) break;
      if (!old.isDone || old === this.#last) continue;
      this.#doneBytes -= old.wireBytes;
      this.#results.delete(id);
      this.#listCache = undefined;
    }
  }
}

/** IPA's result conventions: strings are wrapped, async ones prefixed by the command name. */
function wrapResult(value: unknown, commandName: string, mode: 'sync' | 'async'): unknown {
  if (typeof value === 'string') return { result: mode === 'async' ? `${commandName}: ${value}` : value };
  return value ?? null;
}

function wireErrorOf(error: unknown): WireError {
  if (isIpaError(error)) return error.toWire();
  return new CommandExecutionError(error instanceof Error ? error.message : String(error)).toWire();
}
