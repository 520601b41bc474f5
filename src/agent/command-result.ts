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

// Shared empty and initial values: a kept result holds only what is its own.
const NULL_JSON: readonly JsonSegment[] = Object.freeze(['null']);
const NO_SEGMENTS: readonly JsonSegment[] = Object.freeze([]);
const NO_BUFFERS: readonly Buffer[] = Object.freeze([]);
const NO_OFFSETS: readonly number[] = Object.freeze([]);

export class CommandResult {
  readonly id = nodeCrypto().randomUUID();
  readonly name: string;
  readonly startedAt = Date.now();
  #status: CommandStatus = 'RUNNING';
  #error: WireError | null = null;
  /** The result as JSON, produced once when the command finishes (result-json.ts). */
  #resultJson: readonly JsonSegment[] = NULL_JSON;
  /** `command_progress` as JSON, serialised when set: see `setProgress`. */
  #progressJson = 'null';
  /**
   * A finished result's wire JSON, as bytes outside the V8 heap: its own text in one buffer,
   * and the shared bytes of deep-frozen values (a step listing) that every result carrying
   * them reuses, each placed at its offset in `#own`. The runner keeps the last 1000 results:
   * as heap strings they were promoted to old space and, once dropped, grew it to ~57 MB of
   * garbage between mark-compacts whose pauses were the API's p99 (bench/api). One buffer
   * rather than one per text piece, and no promise unless someone waits: every kept result
   * is copied and promoted by a scavenge, so its few objects are what each scavenge costs.
   */
  #own: Buffer | undefined;
  #shared: readonly Buffer[] = NO_BUFFERS;
  #sharedAt: readonly number[] = NO_OFFSETS;
  #wireBytes = 0;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get status(): CommandStatus {
    return this.#status;
  }

  get isDone(): boolean {
    return this.#status !== 'RUNNING';
  }

  get result(): unknown {
    if (!this.isDone) return null;
    return this.#own ? this.toWire().command_result : JSON.parse(joinSegments(this.#resultJson));
  }

  get error(): WireError | null {
    return this.#error;
  }

  get progress(): Record<string, unknown> | null {
    return JSON.parse(this.#progressJson) as Record<string, unknown> | null;
  }

  /** Resolves when the command has finished, whatever its outcome. */
  whenDone(): Promise<void> {
    if (this.isDone) return Promise.resolve();
    this.#done ??= new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
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
      this.#resultJson = NULL_JSON;
      this.#error = {
        type: 'CommandExecutionError',
        code: 500,
        message: 'Command execution failed',
        details: `the command's result could not be serialised: ${(e as Error).message}`,
      };
    }
    this.#resolveDone?.();
    // A kept result holds nothing more for waiters: whenDone() answers from the status now.
    this.#done = undefined;
    this.#resolveDone = undefined;
  }

  toWire(): CommandResultWire {
    return JSON.parse(this.toJSONString()) as CommandResultWire;
  }

  toJSONString(): string {
    return this.#own ? Buffer.concat(this.toJSONParts(), this.#wireBytes).toString() : joinSegments(this.#segments());
  }

  /** The wire JSON as bytes (one allocation unless it is a single part). */
  toJSONBuffer(): Buffer {
    const parts = this.toJSONParts();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#wireBytes);
  }

  /** Bytes of the wire JSON (what `GET /v1/commands/` serves for this result). */
  get wireBytes(): number {
    if (!this.#own) this.toJSONParts();
    return this.#wireBytes;
  }

  /**
   * The wire JSON as byte parts, to be sent or joined in order. A finished result's bytes are
   * built once; the parts are views made per call, which die young.
   */
  toJSONParts(): readonly Buffer[] {
    if (!this.#own) {
      const segments = this.#segments();
      if (!this.isDone) {
        const parts = segments.map((segment) => (typeof segment === 'string' ? Buffer.from(segment) : segment));
        this.#wireBytes = parts.reduce((sum, part) => sum + part.length, 0);
        return parts;
      }
      this.#keep(segments);
    }
    const own = this.#own!;
    if (this.#shared.length === 0) return [own];
    const parts: Buffer[] = [];
    let from = 0;
    this.#shared.forEach((shared, index) => {
      const at = this.#sharedAt[index]!;
      if (at > from) parts.push(own.subarray(from, at));
      parts.push(shared);
      from = at;
    });
    if (from < own.length) parts.push(own.subarray(from));
    return parts;
  }

  /** Keeps a finished result's segments as its own bytes plus the shared ones. */
  #keep(segments: readonly JsonSegment[]): void {
    let text = '';
    const shared: Buffer[] = [];
    const sharedAt: number[] = [];
    let ownBytes = 0;
    let sharedBytes = 0;
    for (const segment of segments) {
      if (typeof segment === 'string') {
        text += segment;
        ownBytes += Buffer.byteLength(segment);
      } else {
        shared.push(segment);
        sharedAt.push(ownBytes);
        sharedBytes += segment.length;
      }
    }
    this.#own = ownBuffer(text, ownBytes);
    if (shared.length > 0) {
      this.#shared = shared;
      this.#sharedAt = sharedAt;
    }
    this.#wireBytes = ownBytes + sharedBytes;
    this.#resultJson = NO_SEGMENTS; // kept in #own and #shared; the getter reads it back from there
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
function ownBuffer(text: string, byteLength: number): Buffer {
  const bytes = Buffer.allocUnsafeSlow(byteLength);
  bytes.write(text);
  return bytes;
}
