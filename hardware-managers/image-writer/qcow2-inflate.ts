/**
 * Deflated qcow2 clusters inflated in worker threads, a batch at a time. node:zlib's async
 * inflateRaw builds a stream per call: a 64 KiB cluster cost ~235 µs of CPU (stream set-up,
 * 16 KiB output pieces joined again, an error object for the data after the deflate end)
 * where inflateRawSync costs ~94 µs, and the garbage of 16,000 streams per GiB kept the
 * main thread's GC busy (~1.1 s per GiB) and the agent's RSS ~100 MiB up. Here a worker
 * inflates a batch of clusters with inflateRawSync into one buffer it hands back; the main
 * thread only copies the deflated bytes in and the batch out.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// Plain CommonJS evaluated in the worker: the bundle stays one file per plugin.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { inflateRawSync } = require('node:zlib');
parentPort.on('message', ({ id, input, ends, clusterSize }) => {
  const output = new Uint8Array(ends.length * clusterSize);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    let cluster;
    try {
      // qemu inflates into one cluster and ignores what follows the deflate stream's end.
      cluster = inflateRawSync(new Uint8Array(input, start, ends[i] - start), { chunkSize: clusterSize, maxOutputLength: clusterSize });
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
  parentPort.postMessage({ id, output: output.buffer }, [output.buffer]);
});
`;

/** A cluster of the batch did not inflate to a whole cluster (qemu would fail the read too). */
export class InflateError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  id: number;
  output?: ArrayBuffer;
  failed?: number;
  error?: string;
}

export class InflateWorkers {
  readonly #clusterSize: number;
  readonly #count: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve(output: Buffer): void; reject(error: Error): void }>();
  #next = 0;

  /** One worker on two cores (the main thread receives and hashes on the other), up to 4 with more. */
  constructor(clusterSize: number, workers = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.#clusterSize = clusterSize;
    this.#count = workers;
  }

  /** The deflated clusters in `input` (cluster i ends at `ends[i]`; `input` is handed over), inflated into one buffer. */
  inflate(input: ArrayBuffer, ends: number[]): Promise<Buffer> {
    const id = this.#next++;
    const worker = this.#worker(id % this.#count);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, input, ends, clusterSize: this.#clusterSize }, [input]);
    });
  }

  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  #worker(index: number): Worker {
    let worker = this.#workers[index];
    if (worker) return worker;
    worker = new Worker(WORKER_SOURCE, { eval: true });
    // A write that failed before closing it must not keep the agent process alive.
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.output) pending?.resolve(Buffer.from(reply.output));
      else pending?.reject(new InflateError(reply.failed ?? 0, reply.error ?? 'inflate failed'));
    });
    const fail = (error: Error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inflate worker exited with code ${code}`)));
    this.#workers[index] = worker;
    return worker;
  }
}
