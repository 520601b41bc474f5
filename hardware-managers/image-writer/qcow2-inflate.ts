/**
 * Deflated qcow2 clusters inflated in worker threads, a batch at a time. node:zlib's async
 * inflateRaw builds a stream per call: a 64 KiB cluster cost ~235 µs of CPU (stream set-up,
 * 16 KiB output pieces joined again, an error object for the data after the deflate end)
 * where inflateRawSync costs ~94 µs, and the garbage of 16,000 streams per GiB kept the
 * main thread's GC busy (~1.1 s per GiB) and the agent's RSS ~100 MiB up. Here a worker
 * inflates a batch with inflateRawSync into shared memory handed over once (a few slots,
 * reused: with buffers handed over per batch the bench's compressed writes grew the agent's
 * RSS by 93-123 MiB, with the slots by 38-73 MiB, and with a collection after each batch in
 * the worker by 43-45 MiB, for ~0.1-0.2 s more CPU per GiB); the main thread copies the
 * deflated bytes in and the clusters out.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the worker: the bundle stays one file per plugin.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { inflateRawSync } = require('node:zlib');
// inflateRawSync returns each cluster in a new Buffer outside the heap, which V8 frees only
// when it collects, and it collects late: ~30 MiB of dead clusters piled up in the worker.
// A young-generation collection after each batch keeps that to one batch. V8 flags are the
// process's: a worker started after the first finds gc already exposed.
if (typeof globalThis.gc !== 'function') require('node:v8').setFlagsFromString('--expose-gc');
const collect = typeof globalThis.gc === 'function' ? globalThis.gc : require('node:vm').runInNewContext('gc');
const slots = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'slot') {
    slots.set(m.slot, { input: new Uint8Array(m.input), output: new Uint8Array(m.output) });
    return;
  }
  const { input, output } = slots.get(m.slot);
  const { id, ends, clusterSize } = m;
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    let cluster;
    try {
      // qemu inflates into one cluster and ignores what follows the deflate stream's end.
      cluster = inflateRawSync(input.subarray(start, ends[i]), { chunkSize: clusterSize, maxOutputLength: clusterSize });
    } catch (error) {
      parentPort.postMessage({ id, failed: i, error: String(error && error.message || error) });
      return;
    }
    if (cluster.length !== clusterSize) {
      parentPort.postMessage({ id, failed: i, error: 'inflates to ' + cluster.length + ' bytes, not a cluster' });
      return;
    }
    output.set(cluster, i * clusterSize);
    start = ends[i];
  }
  parentPort.postMessage({ id });
  collect({ type: 'minor' });
});
`;

/** Clusters go to a worker in batches of about this many inflated bytes (16 of 64 KiB, one of 2 MiB). */
const BATCH_BYTES = 1024 * 1024;

/** Slot memory of finished writes, for the next (as block-writer.ts keeps its buffers). */
const idleMemory: SharedArrayBuffer[] = [];
const MAX_IDLE = 16;

function sharedMemory(bytes: number): SharedArrayBuffer {
  const index = idleMemory.findIndex((memory) => memory.byteLength === bytes);
  return index >= 0 ? idleMemory.splice(index, 1)[0]! : new SharedArrayBuffer(bytes);
}

/** A cluster of the batch did not inflate to a whole cluster (qemu would fail the read too). */
export class InflateError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

interface Slot {
  index: number;
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  /** Workers that were handed this slot's memory. */
  known: Set<number>;
}

/** Deflated clusters gathered for one worker call, in a slot's shared memory. */
export class InflateBatch {
  readonly guests: number[] = [];
  readonly ends: number[] = [];
  readonly input: Uint8Array;
  constructor(
    readonly slot: Slot,
    readonly clusters: number,
  ) {
    this.input = new Uint8Array(slot.input);
  }

  get full(): boolean {
    return this.guests.length === this.clusters;
  }

  fits(bytes: number): boolean {
    return (this.ends.at(-1) ?? 0) + bytes <= this.input.length;
  }

  add(guest: number, deflated: Uint8Array): void {
    const at = this.ends.at(-1) ?? 0;
    this.input.set(deflated, at);
    this.ends.push(at + deflated.length);
    this.guests.push(guest);
  }
}

interface Reply {
  id: number;
  failed?: number;
  error?: string;
}

export class InflateWorkers {
  readonly #clusterSize: number;
  readonly #clusters: number;
  readonly #count: number;
  readonly #free: Slot[] = [];
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve(): void; reject(error: Error): void }>();
  #next = 0;

  /**
   * One worker on two cores (the main thread receives and hashes on the other), up to 4 with
   * more; two slots more than workers, so one fills and one is written while they inflate.
   */
  constructor(clusterSize: number, workers = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.#clusterSize = clusterSize;
    this.#count = workers;
    this.#clusters = Math.max(1, Math.floor(BATCH_BYTES / clusterSize));
    for (let index = 0; index < workers + 2; index++) {
      // A deflated cluster takes at most twice the cluster size (its sector count field's range).
      const input = sharedMemory(Math.max(BATCH_BYTES, 2 * clusterSize));
      this.#free.push({ index, input, output: sharedMemory(this.#clusters * clusterSize), known: new Set() });
    }
  }

  /** A batch to fill, when a slot is free (one is once the oldest batch is written and released). */
  open(): InflateBatch | undefined {
    const slot = this.#free.pop();
    return slot && new InflateBatch(slot, this.#clusters);
  }

  /** The batch's clusters inflated, cluster i at i × cluster size; valid until `release`. */
  inflate(batch: InflateBatch): Promise<Buffer> {
    const id = this.#next++;
    const index = id % this.#count;
    const worker = this.#worker(index);
    const { slot } = batch;
    if (!slot.known.has(index)) {
      worker.postMessage({ op: 'slot', slot: slot.index, input: slot.input, output: slot.output });
      slot.known.add(index);
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, slot: slot.index, ends: batch.ends, clusterSize: this.#clusterSize });
    }).then(() => Buffer.from(slot.output, 0, batch.guests.length * this.#clusterSize));
  }

  release(batch: InflateBatch): void {
    this.#free.push(batch.slot);
  }

  /** Ends the workers: started per write (kept, they kept the agent from exiting on SIGTERM). */
  async close(): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((worker) => worker.terminate()));
    // No worker holds them any more: the next write's slots.
    for (const slot of this.#free.splice(0)) idleMemory.push(slot.input, slot.output);
    idleMemory.splice(0, Math.max(0, idleMemory.length - MAX_IDLE));
  }

  #worker(index: number): Worker {
    let worker = this.#workers[index];
    if (worker) return worker;
    worker = new Worker(WORKER_SOURCE, { eval: true });
    // A write that failed before closing it must not keep the agent process alive.
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const call = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.failed === undefined) call?.resolve();
      else call?.reject(new InflateError(reply.failed, reply.error ?? 'inflate failed'));
    });
    const fail = (error: Error) => {
      for (const call of this.#pending.values()) call.reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inflate worker exited with code ${code}`)));
    this.#workers[index] = worker;
    return worker;
  }
}
