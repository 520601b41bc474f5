/**
 * One command's record, as served by `GET /v1/commands/`: IPA's five fields plus
 * `command_progress`, our own, which Ironic ignores.
 */
import { randomUUID } from 'node:crypto';
import type { WireError } from '../hardware/errors.js';

export type CommandStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CLEAN_VERSION_MISMATCH';

export interface CommandResultWire {
  id: string;
  command_name: string;
  command_status: CommandStatus;
  command_error: WireError | null;
  command_result: unknown;
  command_progress: Record<string, unknown> | null;
}

export class CommandResult {
  readonly id = randomUUID();
  readonly name: string;
  readonly startedAt = Date.now();
  #status: CommandStatus = 'RUNNING';
  #error: WireError | null = null;
  /** The result as JSON, produced once when the command finishes. */
  #resultJson = 'null';
  #progress: Record<string, unknown> | null = null;
  #json: string | undefined;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(name: string) {
    this.name = name;
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get status(): CommandStatus {
    return this.#status;
  }

  get isDone(): boolean {
    return this.#status !== 'RUNNING';
  }

  get result(): unknown {
    return this.isDone ? JSON.parse(this.#resultJson) : null;
  }

  get error(): WireError | null {
    return this.#error;
  }

  get progress(): Record<string, unknown> | null {
    return this.#progress;
  }

  /** Resolves when the command has finished, whatever its outcome. */
  whenDone(): Promise<void> {
    return this.#done;
  }

  setProgress(progress: Record<string, unknown>): void {
    if (this.isDone) return;
    this.#progress = progress;
  }

  succeed(result: unknown): void {
    this.#finish('SUCCEEDED', null, result);
  }

  fail(error: WireError, status: 'FAILED' | 'CLEAN_VERSION_MISMATCH' = 'FAILED'): void {
    this.#finish(status, error, null);
  }

  #finish(status: CommandStatus, error: WireError | null, result: unknown): void {
    if (this.isDone) return;
    this.#status = status;
    this.#error = error;
    // Serialise now, once: a value JSON cannot carry (a BigInt, a cycle) fails the command
    // here instead of breaking every later GET /v1/commands/, and a value the command keeps
    // mutating afterwards cannot change what was reported.
    try {
      this.#resultJson = JSON.stringify(result ?? null) ?? 'null';
    } catch (e) {
      this.#status = 'FAILED';
      this.#resultJson = 'null';
      this.#error = {
        type: 'CommandExecutionError',
        code: 500,
        message: 'Command execution failed',
        details: `the command's result could not be serialised: ${(e as Error).message}`,
      };
    }
    this.#resolveDone();
  }

  toWire(): CommandResultWire {
    return JSON.parse(this.toJSONString()) as CommandResultWire;
  }

  /** Finished results never change, so their JSON is computed once. */
  toJSONString(): string {
    if (this.#json) return this.#json;
    const json =
      `{"id":${JSON.stringify(this.id)},"command_name":${JSON.stringify(this.name)},` +
      `"command_status":"${this.#status}","command_error":${JSON.stringify(this.#error)},` +
      `"command_result":${this.#resultJson},"command_progress":${JSON.stringify(this.#progress)}}`;
    if (this.isDone) this.#json = json;
    return json;
  }
}
