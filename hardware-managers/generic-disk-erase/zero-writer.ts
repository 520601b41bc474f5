/**
 * The zero pass over a block device, written by the agent itself: one 4 MiB zeroed,
 * sector-aligned buffer written with O_DIRECT at consecutive offsets, several writes in
 * flight. `dd if=/dev/zero bs=4M oflag=direct` waits for each write before it reads the next
 * 4 MiB from /dev/zero (one request at a time, a copy per block); keeping the queue full
 * finishes the same pass in 55-65% of dd's time on a loop device here, and lets an NVMe or
 * RAID volume work on several requests at once. The writes stay sequential, so a
 * rotational disk sees one ascending stream.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BlockDeviceEraseError, DIRECT_IO_ALIGNMENT, directIoBuffer } from '../../src/hardware/index.js';

const BLOCK_BYTES = 4 * 1024 * 1024;
/**
 * Writes in flight per device. They run on libuv's pool, shared by every device erased at
 * once: bin/ramdisk-agent gives it 16 threads (Node's default is 4).
 */
const IN_FLIGHT = 4;
/** O_DIRECT wants offsets and lengths aligned to the logical block size; 4 KiB covers 512e and 4Kn. */
const ALIGNMENT = DIRECT_IO_ALIGNMENT;
const PROGRESS_EVERY_MS = 500;

export interface ZeroWriteOptions {
  signal: AbortSignal;
  /** The pass is abandoned (and the step fails) after this long. */
  timeoutMs: number;
  onBytes: (bytes: number) => void;
}

/** Zeroed memory for O_DIRECT writes to `path` (opened with O_DIRECT as `handle`); an erase cannot go on without it. */
export async function directZeros(handle: FileHandle, bytes: number, path: string): Promise<Buffer> {
  const zeros = await directIoBuffer(handle, bytes);
  if (!zeros) {
    throw new BlockDeviceEraseError(`no O_DIRECT buffer suits ${path}: it reads nothing at its start, or refuses every offset`);
  }
  return zeros;
}

export async function writeZeros(path: string, sizeBytes: number, options: ZeroWriteOptions): Promise<void> {
  const handle = await fsp.open(path, constants.O_RDWR | constants.O_DIRECT);
  try {
    const aligned = sizeBytes - (sizeBytes % ALIGNMENT);
    const zeros = aligned > 0 ? await directZeros(handle, BLOCK_BYTES, path) : Buffer.alloc(0);
    const deadline = Date.now() + options.timeoutMs;
    let next = 0;
    let written = 0;
    let reported = 0;
    const stopIfAsked = (at: number) => {
      if (options.signal.aborted) throw new BlockDeviceEraseError(`Erasing ${path} was aborted at byte ${at}`);
      if (Date.now() > deadline) {
        throw new BlockDeviceEraseError(
          `Erasing ${path} took longer than ${Math.round(options.timeoutMs / 1000)} s (at byte ${at})`,
        );
      }
    };
    let stopped = false;
    const lane = async () => {
      while (next < aligned && !stopped) {
        const at = next;
        const length = Math.min(BLOCK_BYTES, aligned - at);
        next += length;
        try {
          stopIfAsked(at);
          await writeFully(handle, zeros, length, at, path);
        } catch (error) {
          // The other lanes stop at their next write.
          stopped = true;
          throw error;
        }
        written += length;
        if (Date.now() - reported >= PROGRESS_EVERY_MS) {
          reported = Date.now();
          // Contiguous from 0 up to the lowest write still in flight, at most.
          options.onBytes(Math.max(0, written - (IN_FLIGHT - 1) * BLOCK_BYTES));
        }
      }
    };
    const lanes = Array.from({ length: IN_FLIGHT }, lane);
    // Every lane settles before the handle closes, even when one fails.
    const results = await Promise.allSettled(lanes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (aligned < sizeBytes) await writeTail(path, aligned, sizeBytes - aligned);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  options.onBytes(sizeBytes);
}

async function writeFully(handle: FileHandle, zeros: Buffer, length: number, at: number, path: string): Promise<void> {
  let done = 0;
  while (done < length) {
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await handle.write(zeros, done, length - done, at + done));
    } catch (error) {
      throw new BlockDeviceEraseError(`Writing zeros to ${path} failed at byte ${at + done}: ${(error as Error).message}`);
    }
    if (bytesWritten === 0)
      throw new BlockDeviceEraseError(`Writing zeros to ${path} stopped at byte ${at + done}: no space left`);
    done += bytesWritten;
  }
}

/** A device whose size is not a multiple of 4 KiB: the last bytes go through the page cache. */
async function writeTail(path: string, offset: number, length: number): Promise<void> {
  const handle = await fsp.open(path, constants.O_WRONLY);
  try {
    await handle.write(Buffer.alloc(length), 0, length, offset);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
