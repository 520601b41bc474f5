/**
 * Sequential, positional writes of a stream onto a block device (or a plain file standing
 * in for one) without the page cache: incoming chunks are copied into a few 4 MiB
 * sector-aligned buffers and written with O_DIRECT while the next buffer fills, so the
 * download, the hash and the disk work at the same time and memory stays bounded
 * (buffers × buffer size) whatever the image size. Each block is also handed, in order, to a
 * hasher (a worker thread reading the shared buffer in place), so what is verified is
 * exactly what was written. Plain files (scratch files, files standing in for disks)
 * are written through the page cache and flushed at the end.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { DIRECT_IO_ALIGNMENT, directIoBuffer } from '../direct-io.js';
import { ImageWriteError } from '../errors.js';
import type { BlockHasher } from './block-hasher.js';

/** O_DIRECT needs memory, offsets and lengths aligned to the logical block size; 4 KiB covers 512e and 4Kn. */
const ALIGNMENT = DIRECT_IO_ALIGNMENT;
const DEFAULT_BUFFER_BYTES = 2 * 1024 * 1024;
const DEFAULT_BUFFERS = 4;
/**
 * Buffers of finished writers, reused by the next: an image write allocates nothing else
 * the GC would notice, so freed buffers were collected late and each write left ~10 MiB
 * more RSS behind (88 -> 176 MiB over ten 1 GiB writes); reused, they cost 8 MiB once.
 */
const idleMemory: SharedArrayBuffer[] = [];
const MAX_IDLE = 8;

function sharedMemory(bytes: number): SharedArrayBuffer {
  const index = idleMemory.findIndex((memory) => memory.byteLength === bytes);
  return index >= 0 ? idleMemory.splice(index, 1)[0]! : new SharedArrayBuffer(bytes);
}

export interface BlockWriterOptions {
  /** Where byte 0 of the stream goes on the device (the qcow2 scratch area sits at the disk's end). */
  baseOffset?: number;
  /** Bytes available from `baseOffset`; a longer stream fails before writing past it. */
  limit: number;
  bufferBytes?: number;
  buffers?: number;
  /** Called after each completed write with the bytes written so far (relative to `baseOffset`). */
  onWritten?: (bytes: number) => void;
  /** Hashes every byte written, in stream order; owned (closed) by the writer. */
  hasher?: BlockHasher;
}

interface Slot {
  buffer: Buffer;
}

export class BlockWriter {
  readonly path: string;
  readonly direct: boolean;
  readonly #handle: FileHandle;
  readonly #base: number;
  readonly #limit: number;
  readonly #onWritten: ((bytes: number) => void) | undefined;
  readonly #hasher: BlockHasher | undefined;
  readonly #free: Slot[];
  /** Every buffer, handed back to the idle pool on close. */
  readonly #slots: readonly Slot[];
  #closed = false;
  readonly #waiters: (() => void)[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #current: Slot;
  #fill = 0;
  /** Stream bytes accepted (copied into buffers). */
  #position = 0;
  /** Stream bytes on the device (completed writes; contiguous because only the tail can be pending). */
  #written = 0;
  #pendingBytes = new Map<number, number>();
  #error: Error | undefined;

  private constructor(path: string, handle: FileHandle, direct: boolean, slots: Slot[], options: BlockWriterOptions) {
    this.path = path;
    this.#handle = handle;
    this.direct = direct;
    this.#base = options.baseOffset ?? 0;
    this.#limit = options.limit;
    this.#onWritten = options.onWritten;
    this.#hasher = options.hasher;
    this.#slots = [...slots];
    this.#current = slots.pop()!;
    this.#free = slots;
  }

  static async open(path: string, options: BlockWriterOptions): Promise<BlockWriter> {
    const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    if (bufferBytes % ALIGNMENT !== 0) throw new RangeError(`bufferBytes must be a multiple of ${ALIGNMENT}`);
    if ((options.baseOffset ?? 0) % ALIGNMENT !== 0) throw new RangeError(`baseOffset must be a multiple of ${ALIGNMENT}`);
    // O_DIRECT only on block devices: on a plain file a read from a hole does not check
    // alignment, so directIoBuffer's probe would prove nothing (and tmpfs refuses O_DIRECT).
    const isBlockDevice = await fsp.stat(path).then(
      (st) => st.isBlockDevice(),
      () => false,
    );
    let handle: FileHandle;
    let direct = isBlockDevice;
    try {
      handle = await fsp.open(path, direct ? constants.O_RDWR | constants.O_DIRECT : constants.O_RDWR);
    } catch (error) {
      await options.hasher?.close();
      throw error;
    }
    try {
      const count = Math.max(2, options.buffers ?? DEFAULT_BUFFERS);
      const slots: Slot[] = [];
      for (let i = 0; i < count && direct; i++) {
        // Shared memory: the hash worker reads the buffers in place.
        const buffer = await directIoBuffer(handle, bufferBytes, Buffer.from(sharedMemory(bufferBytes + ALIGNMENT)));
        if (buffer) {
          slots.push({ buffer });
          continue;
        }
        // Nothing to read back (an empty device), or no aligned offset accepted: no O_DIRECT.
        await handle.close();
        handle = await fsp.open(path, constants.O_RDWR);
        direct = false;
        slots.length = 0;
      }
      while (slots.length < count) slots.push({ buffer: Buffer.from(sharedMemory(bufferBytes + ALIGNMENT), 0, bufferBytes) });
      return new BlockWriter(path, handle, direct, slots, options);
    } catch (error) {
      await handle.close();
      await options.hasher?.close();
      throw error;
    }
  }

  /** Stream bytes accepted so far. */
  get position(): number {
    return this.#position;
  }

  /** Stream bytes known to be on the device. */
  get written(): number {
    return this.#written;
  }

  /** Append `chunk`; resolves once it is copied (waits only when every buffer is busy). */
  async write(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    this.#assertFits(chunk.length);
    let offset = 0;
    while (offset < chunk.length) {
      const size = this.#current.buffer.length;
      const n = Math.min(chunk.length - offset, size - this.#fill);
      this.#current.buffer.set(chunk.subarray(offset, offset + n), this.#fill);
      this.#fill += n;
      offset += n;
      this.#position += n;
      if (this.#fill === size) {
        this.#submit(this.#current, this.#fill, this.#position - this.#fill);
        this.#fill = 0;
        this.#current = await this.#takeFree();
        this.#throwIfFailed();
      }
    }
  }

  /**
   * Free memory in the current buffer for a reader that fills it itself (http-direct.ts):
   * the body lands where it is written from, without a copy. `commit` says how much it
   * filled.
   */
  space(): Uint8Array {
    return this.#current.buffer.subarray(this.#fill);
  }

  /** `bytes` at the start of the last `space()` are stream data; a promise when every buffer is busy. */
  commit(bytes: number): void | Promise<void> {
    this.#throwIfFailed();
    this.#assertFits(bytes);
    this.#fill += bytes;
    this.#position += bytes;
    if (this.#fill < this.#current.buffer.length) return;
    this.#submit(this.#current, this.#fill, this.#position - this.#fill);
    this.#fill = 0;
    const free = this.#free.pop();
    if (free) {
      this.#current = free;
      return;
    }
    return this.#takeFree().then((slot) => {
      this.#current = slot;
      this.#throwIfFailed();
    });
  }

  /**
   * Continue at `position` (from `baseOffset`): what is buffered is handed to the disk first.
   * For a writer that places pieces (a qcow2's clusters at their guest offsets) rather than one
   * stream; on a block device both the buffered bytes and `position` must be whole 4 KiB
   * blocks, as every O_DIRECT write is. Such a writer has no hasher: its stream is not the image.
   */
  async seek(position: number): Promise<void> {
    this.#throwIfFailed();
    if (position === this.#position) return;
    if (this.direct && (position % ALIGNMENT !== 0 || this.#fill % ALIGNMENT !== 0)) {
      throw new RangeError(`an O_DIRECT writer continues at whole ${ALIGNMENT}-byte blocks only`);
    }
    if (this.#fill > 0) {
      this.#submit(this.#current, this.#fill, this.#position - this.#fill);
      this.#fill = 0;
      this.#current = await this.#takeFree();
      this.#throwIfFailed();
    }
    this.#position = position;
  }

  /** Start over at stream byte 0 (the server ignored Range, or a whole-download retry). */
  async restart(): Promise<void> {
    await this.#drain();
    await this.#hasher?.reset();
    this.#error = undefined;
    this.#fill = 0;
    this.#position = 0;
    this.#written = 0;
    this.#pendingBytes.clear();
  }

  /** Write what is buffered and flush the device's cache; returns the bytes written. */
  async finish(): Promise<number> {
    this.#throwIfFailed();
    const tail = this.#fill;
    const start = this.#position - tail;
    if (tail > 0) {
      const aligned = this.direct ? tail - (tail % ALIGNMENT) : tail;
      if (aligned > 0) this.#submit(this.#current, aligned, start);
      await this.#drain();
      this.#throwIfFailed();
      if (aligned < tail) {
        await this.#hasher?.update(this.#current.buffer.subarray(aligned, tail));
        // O_DIRECT cannot write a partial sector: the last few bytes go through the page cache.
        const buffered = await fsp.open(this.path, constants.O_RDWR);
        try {
          await buffered.write(this.#current.buffer, aligned, tail - aligned, this.#base + start + aligned);
          await buffered.datasync();
        } finally {
          await buffered.close();
        }
        this.#written = this.#position;
        this.#onWritten?.(this.#written);
      }
      this.#fill = 0;
    }
    await this.#drain();
    this.#throwIfFailed();
    // A last block written while the tail still counted as buffered left `written` short of it.
    if (this.#written !== this.#position) {
      this.#written = this.#position;
      this.#onWritten?.(this.#written);
    }
    try {
      await this.#handle.datasync();
    } catch (error) {
      throw this.#wrap(error);
    }
    return this.#position;
  }

  /** Hex digest of every byte written since the start (or the last restart). */
  async digest(): Promise<string> {
    await this.#drain();
    if (!this.#hasher) throw new Error('this writer has no hasher');
    return this.#hasher.digest();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#drain();
    await this.#hasher?.close();
    await this.#handle.close();
    // Nothing reads or writes them any more: no write or hash is in flight after the drain.
    for (const slot of this.#slots) {
      if (idleMemory.length < MAX_IDLE) idleMemory.push(slot.buffer.buffer as SharedArrayBuffer);
    }
  }

  #submit(slot: Slot, length: number, streamOffset: number): void {
    this.#pendingBytes.set(streamOffset, length);
    // Queued now, so blocks reach the hasher in stream order.
    const hashed = this.#hasher?.update(slot.buffer.subarray(0, length));
    const write = (async () => {
      try {
        let done = 0;
        while (done < length) {
          const { bytesWritten } = await this.#handle.write(slot.buffer, done, length - done, this.#base + streamOffset + done);
          if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          done += bytesWritten;
        }
        this.#pendingBytes.delete(streamOffset);
        this.#written = this.#pendingBytes.size === 0 ? this.#position - this.#fill : Math.min(...this.#pendingBytes.keys());
        this.#onWritten?.(this.#written);
      } catch (error) {
        this.#error ??= this.#wrap(error);
      }
      try {
        // The slot is reused only once the hasher has read it too.
        await hashed;
      } catch (error) {
        this.#error ??= error as Error;
      } finally {
        this.#free.push(slot);
        this.#waiters.shift()?.();
      }
    })();
    this.#inFlight.add(write);
    void write.finally(() => this.#inFlight.delete(write));
  }

  async #takeFree(): Promise<Slot> {
    while (this.#free.length === 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#free.pop()!;
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  #assertFits(bytes: number): void {
    if (this.#position + bytes > this.#limit) {
      throw new ImageWriteError(
        this.path,
        'ENOSPC',
        '',
        `the image does not fit: more than ${this.#limit} bytes for the ${this.#limit}-byte target area`,
      );
    }
  }

  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  #wrap(error: unknown): Error {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return new ImageWriteError(this.path, code, '', (error as Error).message ?? String(error), { cause: error });
  }
}
