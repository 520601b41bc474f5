/**
 * One command's record, as served by `GET /v1/commands/`: IPA's five fields plus
 * `command_progress`, our own, which Ironic ignores.
 */
import { nodeCrypto } from '../shared/lazy-crypto.js';
import type { WireError } from '../hardware/errors.js';
import { redactValue } from './redact.js';
import { joinSegments, resultJsonSegments, type JsonSegment } from './result-json.js';

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
  readonly id = nodeCrypto().randomUUID();
  readonly name: string;
  readonly startedAt = Date.now();
  #status: CommandStatus = 'RUNNING';
  #error: WireError | null = null;
  /** The result as JSON, produced once when the command finishes (result-json.ts). */
  #resultJson: JsonSegment[] = ['null'];
  /** `command_progress` as JSON, serialised when set: see `setProgress`. */
  #progressJson = 'null';
  /**
   * A finished result's wire JSON, as bytes outside the V8 heap, in parts: its own, and the
   * shared bytes of deep-frozen values (a step listing) that every result carrying them
   * reuses. The runner keeps the last 1000 results: as heap strings they were promoted to old
   * space and, once dropped, grew it to ~57 MB of garbage between mark-compacts whose pauses
   * were the API's p99 (bench/api).
   */
  #wire: Buffer[] | undefined;
  #wireBytes = 0;
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
    if (!this.isDone) return null;
    return this.#wire ? this.toWire().command_result : JSON.parse(joinSegments(this.#resultJson));
  }

  get error(): WireError | null {
    return this.#error;
  }

  get progress(): Record<string, unknown> | null {
    return JSON.parse(this.#progressJson) as Record<string, unknown> | null;
  }

  /** Resolves when the command has finished, whatever its outcome. */
  whenDone(): Promise<void> {
    return this.#done;
  }

  /**
   * Serialised here, once: a value JSON cannot carry (a BigInt, a cycle) throws into the step
   * that reported it (failing that command with a clear error) instead of breaking every later
   * GET /v1/commands/, the endpoint a conductor polls.
   */
  setProgress(progress: Record<string, unknown>): void {
    if (this.isDone) return;
    let json: string | undefined;
    try {
      json = JSON.stringify(redactValue(progress));
    } catch (error) {
      throw new TypeError(`progress could not be serialised as JSON: ${(error as Error).message}`);
    }
    if (json === undefined || typeof progress !== 'object') throw new TypeError('progress must be a JSON object');
    this.#progressJson = json;
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
    this.#error = error === null ? null : (redactValue(error) as WireError);
    // Serialise now, once: a value JSON cannot carry (a BigInt, a cycle) fails the command
    // here instead of breaking every later GET /v1/commands/, and a value the command keeps
    // mutating afterwards cannot change what was reported.
    try {
      this.#resultJson = resultJsonSegments(result);
    } catch (e) {
      this.#status = 'FAILED';
      this.#resultJson = ['null'];
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

  toJSONString(): string {
    return this.#wire ? Buffer.concat(this.#wire, this.#wireBytes).toString() : joinSegments(this.#segments());
  }

  /** The wire JSON as bytes (one allocation unless it is a single part). */
  toJSONBuffer(): Buffer {
    const parts = this.toJSONParts();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#wireBytes);
  }

  /** Bytes of the wire JSON (what `GET /v1/commands/` serves for this result). */
  get wireBytes(): number {
    if (!this.#wire) this.toJSONParts();
    return this.#wireBytes;
  }

  /** The wire JSON as byte parts, to be sent or joined in order; a finished result's are built once. */
  toJSONParts(): readonly Buffer[] {
    if (this.#wire) return this.#wire;
    const done = this.isDone;
    const parts = this.#segments().map((segment) =>
      typeof segment !== 'string' ? segment : done ? ownBuffer(segment) : Buffer.from(segment),
    );
    const bytes = parts.reduce((sum, part) => sum + part.length, 0);
    if (!done) {
      this.#wireBytes = bytes;
      return parts;
    }
    this.#wire = parts;
    this.#wireBytes = bytes;
    this.#resultJson = []; // kept inside #wire; the getter reads it back from there
    return parts;
  }

  #segments(): JsonSegment[] {
    const segments: JsonSegment[] = [
      `{"id":${JSON.stringify(this.id)},"command_name":${JSON.stringify(this.name)},` +
        `"command_status":"${this.#status}","command_error":${JSON.stringify(this.#error)},"command_result":`,
    ];
    for (const segment of [...this.#resultJson, `,"command_progress":${this.#progressJson}}`]) {
      const last = segments.length - 1;
      if (typeof segment === 'string' && typeof segments[last] === 'string') segments[last] += segment;
      else segments.push(segment);
    }
    return segments;
  }
}

/**
 * Its own exact-size allocation: a slice of Node's shared 8 KiB pool would keep the whole
 * slab alive for as long as the result is kept (8 MB for 1000 results instead of ~1.6 MB).
 */
function ownBuffer(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}
