/**
 * Hashing of the blocks an image writer writes, in stream order. The worker variant
 * hashes on another core, reading the writer's shared buffers in place (no copy), so
 * the event loop only receives and copies: SHA-256/512 at 0.5-1.5 GB/s would otherwise
 * cap the write rate on one core. Both variants expose the same interface.
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { nodeHashName } from './checksum.js';

export interface BlockHasher {
  /** Hash `view` (after everything given before); resolves once `view` may be reused. */
  update(view: Uint8Array): Promise<void>;
  /** Hex digest of everything since the last reset. */
  digest(): Promise<string>;
  /** Start over (the download restarted from byte 0). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export class InlineHasher implements BlockHasher {
  readonly #algorithm: string;
  #hash: Hash;

  constructor(algorithm: string) {
    this.#algorithm = requireHashName(algorithm);
    this.#hash = createHash(this.#algorithm);
  }

  async update(view: Uint8Array): Promise<void> {
    this.#hash.update(view);
  }

  async digest(): Promise<string> {
    return this.#hash.copy().digest('hex');
  }

  async reset(): Promise<void> {
    this.#hash = createHash(this.#algorithm);
  }

  async close(): Promise<void> {}
}

// Plain CommonJS evaluated in the worker: the bundle stays one file per plugin.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hash = createHash(workerData.algorithm);
const buffers = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.op === 'register') buffers.set(m.buffer, new Uint8Array(m.sab));
    else if (m.op === 'update-copy') hash.update(m.view);
    else if (m.op === 'update') hash.update(buffers.get(m.buffer).subarray(m.offset, m.offset + m.length));
    else if (m.op === 'digest') { parentPort.postMessage({ id: m.id, value: hash.copy().digest('hex') }); return; }
    else if (m.op === 'reset') hash = createHash(workerData.algorithm);
    parentPort.postMessage({ id: m.id });
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: String(error && error.message || error) });
  }
});
`;

interface Pending {
  resolve(value: string | undefined): void;
  reject(error: Error): void;
}

export class WorkerHasher implements BlockHasher {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  /** Shared buffers already handed to the worker: posting a SharedArrayBuffer costs ~1 ms, an index nothing. */
  readonly #registered = new WeakMap<SharedArrayBuffer, number>();
  #nextBuffer = 0;
  #next = 0;
  #failed: Error | undefined;

  constructor(algorithm: string) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { algorithm: requireHashName(algorithm) } });
    // A writer that failed before closing it must not keep the agent process alive.
    this.#worker.unref();
    this.#worker.on('message', (m: { id: number; value?: string; error?: string }) => {
      const pending = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error) pending?.reject(new Error(`hash worker: ${m.error}`));
      else pending?.resolve(m.value);
    });
    const fail = (error: Error) => {
      this.#failed ??= error;
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
  }

  update(view: Uint8Array): Promise<void> {
    // The worker reads the writer's shared buffers in place; anything else is copied.
    if (!(view.buffer instanceof SharedArrayBuffer)) {
      return this.#call({ op: 'update-copy', view: copyToShared(view) }).then(() => undefined);
    }
    const shared = view;
    const sab = view.buffer;
    let buffer = this.#registered.get(sab);
    if (buffer === undefined) {
      buffer = this.#nextBuffer++;
      this.#registered.set(sab, buffer);
      void this.#call({ op: 'register', buffer, sab }).catch(() => undefined);
    }
    return this.#call({ op: 'update', buffer, offset: shared.byteOffset, length: shared.byteLength }).then(() => undefined);
  }

  async digest(): Promise<string> {
    return (await this.#call({ op: 'digest' })) ?? '';
  }

  async reset(): Promise<void> {
    await this.#call({ op: 'reset' });
  }

  async close(): Promise<void> {
    this.#failed ??= new Error('hash worker closed');
    await this.#worker.terminate();
  }

  #call(message: Record<string, unknown>): Promise<string | undefined> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id });
    });
  }
}

function copyToShared(view: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new SharedArrayBuffer(view.length));
  copy.set(view);
  return copy;
}

function requireHashName(algorithm: string): string {
  const name = nodeHashName(algorithm);
  if (!name) throw new Error(`Unsupported image hash algorithm ${algorithm}`);
  return name;
}

/**
 * The hasher for an image write: a worker when there are cores to spare. On two cores or
 * fewer the worker only competes with receiving and the kernel's I/O (each hand-over
 * wakes it and preempts the event loop), which measured no faster and ~10-25 MiB larger.
 */
export function createBlockHasher(algorithm: string, cores = availableParallelism()): BlockHasher {
  return cores > 2 ? new WorkerHasher(algorithm) : new InlineHasher(algorithm);
}
