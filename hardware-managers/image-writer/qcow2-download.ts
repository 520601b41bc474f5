/**
 * A qcow2 downloaded and decoded at once: the body is read into a few shared buffers
 * (http-direct reads into them in place), hashed there in file order, inline or in a worker
 * by the raw path's rule (download-to.ts; on 2 cores inline measured 1.6-2.1 s per GiB, a
 * worker 2.6-2.7 s, same conditions), and decoded behind the receiving (the checksum covers
 * the downloaded file, as qemu-img's input was hashed on the park-and-convert path) and
 * decoded (qcow2-stream.ts) onto the device (qcow2-guest-writer.ts). The disk is written
 * once, at its start, while the image arrives. The retry rules are the raw path's
 * (download.ts): a resume continues the decoding, a restart or a checksum mismatch starts it
 * over, and the checksum is verified before the step succeeds.
 *
 * When the decoder gives up (Qcow2StreamAbandoned: a table after more of the data it maps
 * than is held, corrupt tables, a cluster that does not inflate) the download is stopped and
 * Qcow2StreamFallback says why: the caller then converts with qemu-img, from the start.
 */
import {
  downloadImage,
  type BlockDevice,
  type BlockHasher,
  type DownloadResult,
  type ImageSink,
} from '../../src/hardware/index.js';
import { hasherFor, type DownloadJob } from './download-to.js';
import { Qcow2GuestWriter } from './qcow2-guest-writer.js';
import type { Qcow2Header } from './qcow2-header.js';
import { Qcow2StreamAbandoned, Qcow2StreamDecoder } from './qcow2-stream.js';

const BUFFER_BYTES = 2 * 1024 * 1024;
const BUFFERS = 4;
/** Buffers of finished downloads, for the next (as block-writer.ts keeps its own). */
const idleBuffers: SharedArrayBuffer[] = [];

/** The image could not be decoded as it streamed; `reason` is for the log and the step result. */
export class Qcow2StreamFallback extends Error {
  constructor(readonly reason: string) {
    super(`qcow2 not decoded as it streamed: ${reason}`);
  }
}

export interface StreamedQcow2 {
  download: DownloadResult;
  stats: Qcow2GuestWriter['stats'];
}

export async function downloadDecodingQcow2(
  job: DownloadJob,
  device: BlockDevice,
  isBlockDevice: boolean,
  image: { header: Qcow2Header; head: Buffer },
  options: { holdBytes?: number } = {},
): Promise<StreamedQcow2> {
  const { ctx, info } = job;
  await ctx.guard.assertWritable(device.path);
  const writer = await Qcow2GuestWriter.open(device.path, device.sizeBytes, {
    virtualSize: image.header.virtualSize,
    clusterSize: image.header.clusterSize,
    isBlockDevice,
    exec: ctx.exec,
  });
  const abandon = new AbortController();
  const decoder = new Qcow2StreamDecoder(image.header, image.head, writer, options);
  const sink = new DecodingSink(decoder, writer, hasherFor(info, job.expected.algorithm), job, abandon);
  try {
    const download = await downloadImage({
      info,
      client: job.client,
      expected: job.expected,
      sink,
      settings: job.settings,
      progress: job.progress,
      log: ctx.log,
      signal: AbortSignal.any([ctx.signal, abandon.signal]),
      location: device.path,
    });
    return { download, stats: writer.stats };
  } catch (error) {
    if (abandon.signal.aborted && !ctx.signal.aborted) throw new Qcow2StreamFallback((abandon.signal.reason as Error).message);
    throw error;
  } finally {
    await sink.close();
    await writer.close();
    decoder.release();
  }
}

/**
 * Receives into its buffers and decodes behind the receiving: `commit` returns at once while
 * a buffer is free, so the socket is not paused after every read (pausing and resuming it
 * per read cost more than the decoding); it waits only when every buffer is still being
 * decoded or hashed.
 */
class DecodingSink implements ImageSink {
  readonly #decoder: Qcow2StreamDecoder;
  readonly #writer: Qcow2GuestWriter;
  readonly #hasher: BlockHasher;
  readonly #job: DownloadJob;
  readonly #abandon: AbortController;
  readonly #slots: Slot[] = [];
  #slot = 0;
  #fill = 0;
  /** The decoding of everything committed so far, in order. */
  #decoding: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(
    decoder: Qcow2StreamDecoder,
    writer: Qcow2GuestWriter,
    hasher: BlockHasher,
    job: DownloadJob,
    abandon: AbortController,
  ) {
    this.#decoder = decoder;
    this.#writer = writer;
    this.#hasher = hasher;
    this.#job = job;
    this.#abandon = abandon;
    for (let i = 0; i < BUFFERS; i++) {
      const buffer = Buffer.from(idleBuffers.pop() ?? new SharedArrayBuffer(BUFFER_BYTES));
      this.#slots.push({ buffer, done: Promise.resolve(), free: true });
    }
  }

  space(): Uint8Array {
    return this.#slots[this.#slot]!.buffer.subarray(this.#fill);
  }

  commit(bytes: number): void | Promise<void> {
    this.#throwIfFailed();
    const slot = this.#slots[this.#slot]!;
    const piece = slot.buffer.subarray(this.#fill, this.#fill + bytes);
    this.#fill += bytes;
    this.#decoding = this.#decoding.then(() => this.#decode(piece));
    if (this.#fill < slot.buffer.length) return;
    // Full: hashed in place (a worker reads the shared buffer) and reused once both are done.
    this.#release(slot, this.#hasher.update(slot.buffer));
    this.#slot = (this.#slot + 1) % this.#slots.length;
    this.#fill = 0;
    const next = this.#slots[this.#slot]!;
    if (!next.free) return next.done.then(() => this.#throwIfFailed());
  }

  async write(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length;) {
      const space = this.space();
      const n = Math.min(space.length, chunk.length - offset);
      space.set(chunk.subarray(offset, offset + n));
      offset += n;
      await this.commit(n);
    }
  }

  async restart(): Promise<void> {
    await this.#settled();
    this.#failure = undefined;
    await this.#hasher.reset();
    this.#fill = 0;
    this.#decoder.reset();
    await this.#writer.reset();
  }

  async finish(): Promise<number> {
    const slot = this.#slots[this.#slot]!;
    if (this.#fill > 0) this.#release(slot, this.#hasher.update(slot.buffer.subarray(0, this.#fill)));
    await this.#settled();
    this.#throwIfFailed();
    await this.#guard(async () => {
      await this.#decoder.finish();
      await this.#writer.finish();
    });
    this.#job.progress.written(this.#decoder.position);
    return this.#decoder.position;
  }

  async digest(): Promise<string> {
    await this.#settled();
    return this.#hasher.digest();
  }

  async close(): Promise<void> {
    await this.#settled().catch(() => undefined);
    await this.#hasher.close();
    for (const slot of this.#slots) idleBuffers.push(slot.buffer.buffer as SharedArrayBuffer);
    this.#slots.length = 0;
  }

  /** The slot is free again once it is hashed and everything in it is decoded. */
  #release(slot: Slot, hashed: Promise<void>): void {
    slot.free = false;
    const done = Promise.all([hashed, this.#decoding]).then(
      () => undefined,
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    slot.done = done.then(() => {
      slot.free = true;
    });
  }

  async #decode(piece: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return;
    try {
      await this.#guard(() => this.#decoder.push(piece));
      this.#job.progress.written(this.#decoder.position);
    } catch (error) {
      this.#failure ??= error;
    }
  }

  async #guard(step: () => Promise<void>): Promise<void> {
    if (this.#abandon.signal.aborted) throw this.#abandon.signal.reason as Error;
    try {
      await step();
    } catch (error) {
      // Stops the download (download.ts ends on an aborted signal, without retrying).
      if (error instanceof Qcow2StreamAbandoned) this.#abandon.abort(error);
      throw error;
    }
  }

  /** Every buffer hashed and every committed byte decoded (or failed). */
  async #settled(): Promise<void> {
    await this.#decoding;
    await Promise.all(this.#slots.map((slot) => slot.done));
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

interface Slot {
  buffer: Buffer;
  /** Settles once its hashing and decoding are done (failures go to the sink's failure). */
  done: Promise<void>;
  free: boolean;
}
