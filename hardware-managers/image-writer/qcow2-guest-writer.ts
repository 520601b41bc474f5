/**
 * The decoded guest disk onto the target device (a GuestSink for qcow2-stream.ts): data goes
 * through the raw path's BlockWriter (O_DIRECT, 4 × 2 MiB buffers in flight), continued at each
 * piece's guest offset; deflated clusters are inflated by worker threads in batches
 * (qcow2-inflate.ts; bounded in flight) and written in the order they came; what the image leaves unallocated is made to
 * read as zeros, as `qemu-img convert -n` leaves it.
 *
 * Zeros: a range of at least ZEROOUT_MIN_BYTES goes to `blkdiscard --zeroout` (BLKZEROOUT:
 * the device zeroes it, often without writing it), one process at a time; smaller ones are
 * written, in guest order between the data around them, so that the writes stay one stream.
 * Measured here on a loop device: a blkdiscard process costs ~7 ms whatever the length, about
 * what writing 8 MiB costs. O_DIRECT writes whole 4 KiB blocks: bytes that do not fill one
 * (clusters of 512 B-2 KiB, the disk's last block) are gathered until their block is whole.
 */
import { constants, promises as fsp } from 'node:fs';
import { BlockWriter, DIRECT_IO_ALIGNMENT, type Exec } from '../../src/hardware/index.js';
import { type InflateBatch, InflateError, InflateWorkers } from './qcow2-inflate.js';
import { type GuestSink, Qcow2StreamAbandoned } from './qcow2-stream.js';
/** What BlockWriter writes with O_DIRECT: whole blocks of this size. */
const BLOCK = DIRECT_IO_ALIGNMENT;
const ZEROOUT_MIN_BYTES = 8 * 1024 * 1024;
/** Incomplete 4 KiB blocks held at most (a 512 B-cluster image in a scattered order). */
const MAX_PARTIAL_BLOCKS = 4096;
const ZEROS = Buffer.alloc(1024 * 1024);

export interface GuestWriterOptions {
  virtualSize: number;
  clusterSize: number;
  /** Block devices get BLKZEROOUT; a plain file standing in for one is written. */
  isBlockDevice: boolean;
  exec: Exec;
}

interface Inflating {
  batch: InflateBatch;
  result: Promise<Buffer>;
  settled: boolean;
}

export class Qcow2GuestWriter implements GuestSink {
  readonly #path: string;
  readonly #options: GuestWriterOptions;
  readonly #writer: BlockWriter;
  /** Batches sent to a worker, oldest first: written in this order. */
  readonly #inflating: Inflating[] = [];
  /** Deflated clusters not yet sent to a worker. */
  #batch: InflateBatch | undefined;
  #workers: InflateWorkers | undefined;
  /** Small zero ranges [start, end) not yet written, by start; they go out in guest order. */
  #zeros: [number, number][] = [];
  readonly #partial = new Map<number, { bytes: Buffer; filled: number }>();
  #zeroouts: Promise<void> = Promise.resolve();
  #zeroFailure: Error | undefined;
  /** Counters for the log and the bench. */
  readonly stats = { zeroedByDevice: 0, zeroedByWrite: 0, processes: 0, inflated: 0 };

  private constructor(path: string, writer: BlockWriter, options: GuestWriterOptions) {
    this.#path = path;
    this.#writer = writer;
    this.#options = options;
  }

  static async open(path: string, sizeBytes: number, options: GuestWriterOptions): Promise<Qcow2GuestWriter> {
    return new Qcow2GuestWriter(path, await BlockWriter.open(path, { limit: sizeBytes }), options);
  }

  async data(guest: number, bytes: Uint8Array): Promise<void> {
    // Behind clusters still inflating: in guest order the writes stay one stream.
    await this.#drainInflating();
    await this.#place(guest, bytes);
  }

  async compressed(guest: number, deflated: Buffer): Promise<void> {
    if (this.#batch && !this.#batch.fits(deflated.length)) this.#sendBatch();
    const workers = (this.#workers ??= new InflateWorkers(this.#options.clusterSize));
    while (!this.#batch) {
      this.#batch = workers.open();
      // Every slot in flight: the oldest batch is written, which frees its slot.
      if (!this.#batch) await this.#writeOldestInflated();
    }
    this.#batch.add(guest, deflated);
    if (this.#batch.full) this.#sendBatch();
    while (this.#inflating[0]?.settled) await this.#writeOldestInflated();
  }

  zero(guest: number, length: number): void {
    const end = Math.min(guest + length, this.#options.virtualSize);
    if (end <= guest) return;
    const zeros = this.#zeros;
    const last = zeros.at(-1);
    if (last && last[1] === guest) last[1] = end;
    else if (!last || last[0] < guest) zeros.push([guest, end]);
    else {
      // Out of guest order (tables in an unusual order): keep the list sorted.
      let at = zeros.findIndex(([start]) => start > guest);
      if (at < 0) at = zeros.length;
      zeros.splice(at, 0, [guest, end]);
    }
  }

  /** Everything decoded is on the device, flushed. */
  async finish(): Promise<void> {
    await this.#drainInflating();
    await this.#zerosBefore(Infinity);
    const tail = [...this.#partial.entries()];
    await this.#writer.finish();
    // Only the disk's last block can stay short: its bytes past the virtual size are not the image's.
    if (tail.length > 0) await this.#writeTail(tail);
    await this.#zeroouts;
    if (this.#zeroFailure) throw this.#zeroFailure;
  }

  /** The download starts over: drop what is queued (the device is written again from the start). */
  async reset(): Promise<void> {
    await Promise.allSettled(this.#inflating.map((entry) => entry.result));
    for (const { batch } of this.#inflating.splice(0)) this.#workers?.release(batch);
    if (this.#batch) this.#workers?.release(this.#batch);
    this.#batch = undefined;
    this.#zeros = [];
    this.#partial.clear();
    await this.#zeroouts;
    this.#zeroFailure = undefined;
    await this.#writer.restart();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#inflating.map((entry) => entry.result));
    await this.#workers?.close();
    await this.#zeroouts;
    await this.#writer.close();
  }

  #sendBatch(): void {
    const batch = this.#batch;
    if (!batch || !this.#workers) return;
    this.#batch = undefined;
    const entry: Inflating = { batch, result: this.#workers.inflate(batch), settled: false };
    entry.result.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    this.#inflating.push(entry);
  }

  async #drainInflating(): Promise<void> {
    this.#sendBatch();
    while (this.#inflating.length > 0) await this.#writeOldestInflated();
  }

  async #writeOldestInflated(): Promise<void> {
    const { batch, result } = this.#inflating.shift()!;
    const { guests } = batch;
    const { clusterSize, virtualSize } = this.#options;
    let clusters: Buffer;
    try {
      clusters = await result;
    } catch (error) {
      // qemu requires a whole cluster (qcow2_zlib_decompress); anything else is corruption.
      const guest = error instanceof InflateError ? guests[error.index] : guests[0];
      throw new Qcow2StreamAbandoned(
        `the compressed cluster of guest offset ${guest} does not inflate: ${(error as Error).message}`,
      );
    }
    this.stats.inflated += guests.length;
    for (const [index, guest] of guests.entries()) {
      const at = index * clusterSize;
      await this.#place(guest, clusters.subarray(at, at + Math.min(clusterSize, virtualSize - guest)));
    }
    // Copied into the writer's buffers: the slot may take the next batch.
    this.#workers!.release(batch);
  }

  /** Guest bytes onto the device at their own offset, small zero ranges before them first. */
  async #place(guest: number, bytes: Uint8Array): Promise<void> {
    await this.#zerosBefore(guest);
    await this.#put(guest, bytes);
  }

  async #put(guest: number, bytes: Uint8Array): Promise<void> {
    let at = guest;
    let rest = bytes;
    const head = Math.min(rest.length, (BLOCK - (at % BLOCK)) % BLOCK);
    if (head > 0) {
      await this.#gather(at, rest.subarray(0, head));
      at += head;
      rest = rest.subarray(head);
    }
    const whole = rest.length - (rest.length % BLOCK);
    if (whole > 0) {
      await this.#writer.seek(at);
      await this.#writer.write(rest.subarray(0, whole));
      at += whole;
      rest = rest.subarray(whole);
    }
    if (rest.length > 0) await this.#gather(at, rest);
  }

  /** Bytes within one 4 KiB block; the block is written once all of its bytes (up to the virtual size) came. */
  async #gather(at: number, bytes: Uint8Array): Promise<void> {
    const start = at - (at % BLOCK);
    let block = this.#partial.get(start);
    if (!block) {
      if (this.#partial.size >= MAX_PARTIAL_BLOCKS) {
        throw new Qcow2StreamAbandoned(`more than ${MAX_PARTIAL_BLOCKS} partly decoded 4 KiB blocks`);
      }
      block = { bytes: Buffer.alloc(BLOCK), filled: 0 };
      this.#partial.set(start, block);
    }
    block.bytes.set(bytes, at - start);
    block.filled += bytes.length;
    if (block.filled === BLOCK) {
      this.#partial.delete(start);
      await this.#writer.seek(start);
      await this.#writer.write(block.bytes);
    }
  }

  /** Zero ranges that start before `guest`, written or handed to the device. */
  async #zerosBefore(guest: number): Promise<void> {
    while (this.#zeros.length > 0 && this.#zeros[0]![0] < guest) {
      const [start, end] = this.#zeros.shift()!;
      const from = Math.ceil(start / BLOCK) * BLOCK;
      const to = Math.floor(end / BLOCK) * BLOCK;
      if (this.#options.isBlockDevice && to - from >= ZEROOUT_MIN_BYTES) {
        await this.#writeZeros(start, from);
        this.#zeroout(from, to - from);
        await this.#writeZeros(to, end);
      } else await this.#writeZeros(start, end);
    }
  }

  async #writeZeros(start: number, end: number): Promise<void> {
    this.stats.zeroedByWrite += end - start;
    for (let at = start; at < end; at += ZEROS.length) await this.#put(at, ZEROS.subarray(0, Math.min(ZEROS.length, end - at)));
  }

  /** One blkdiscard at a time, beside the writes (their ranges never meet: all are whole blocks). */
  #zeroout(offset: number, length: number): void {
    this.stats.zeroedByDevice += length;
    this.stats.processes++;
    this.#zeroouts = this.#zeroouts.then(async () => {
      if (this.#zeroFailure) return;
      try {
        await this.#options.exec('blkdiscard', ['--zeroout', '-o', String(offset), '-l', String(length), this.#path], {
          quiet: true,
        });
      } catch (error) {
        this.#zeroFailure = error as Error;
      }
    });
  }

  async #writeTail(blocks: [number, { bytes: Buffer; filled: number }][]): Promise<void> {
    const handle = await fsp.open(this.#path, constants.O_RDWR);
    try {
      for (const [start, block] of blocks) {
        const length = this.#options.virtualSize - start;
        if (length >= BLOCK || block.filled !== length) {
          throw new Error(`the guest bytes [${start}, ${start + BLOCK}) were not all decoded (${block.filled} were)`);
        }
        await handle.write(block.bytes, 0, length, start);
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}
