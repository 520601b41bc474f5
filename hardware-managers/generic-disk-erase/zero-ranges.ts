/**
 * Zeroes a few byte ranges of a device with positional writes, all in flight at once, then
 * flushes the device's write cache once. Block devices are written with O_DIRECT (the
 * ranges are whole logical sectors), plain files through the page cache. Replaces one `dd`
 * per range: two processes per disk or partition.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BlockDeviceEraseError, type BlockDevice } from '../../src/hardware/index.js';
import type { ByteRange } from './gpt-areas.js';
import { directZeros } from './zero-writer.js';

/** Larger ranges are written in pieces of this size from one zeroed buffer. */
const PIECE_BYTES = 1024 * 1024;

/** Sorted, overlaps merged, clipped to [0, sizeBytes). */
function normalizeRanges(ranges: readonly ByteRange[], sizeBytes: number): ByteRange[] {
  const clipped = ranges
    .map(({ offset, length }) => ({ start: Math.max(offset, 0), end: Math.min(offset + length, sizeBytes) }))
    .filter(({ start, end }) => end > start)
    .sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const range of clipped) {
    const last = merged.at(-1);
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged.map(({ start, end }) => ({ offset: start, length: end - start }));
}

export interface ZeroRangesOptions {
  /**
   * Flush the device's write cache afterwards (default). A flush reaches the whole disk: a
   * partition's O_DIRECT writes, done, are flushed by the one made after the disk's own.
   * Writes that went through the page cache (a device refusing O_DIRECT) are always synced.
   */
  flush?: boolean;
}

export async function zeroRanges(
  device: BlockDevice,
  ranges: readonly ByteRange[],
  options: ZeroRangesOptions = {},
): Promise<void> {
  const normalized = normalizeRanges(ranges, device.sizeBytes);
  if (normalized.length === 0) return;
  const { handle, direct } = await openForWrite(device);
  try {
    const largest = Math.max(...normalized.map((r) => r.length));
    const bytes = Math.min(largest, PIECE_BYTES);
    const zeros = direct ? await directZeros(handle, bytes, device.path) : Buffer.alloc(bytes);
    await Promise.all(normalized.map((range) => writeRange(handle, zeros, range, device.path)));
    // The zeros must survive the power-off that often follows a clean.
    if ((options.flush ?? true) || !direct) await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function writeRange(handle: FileHandle, zeros: Buffer, range: ByteRange, path: string): Promise<void> {
  const end = range.offset + range.length;
  for (let at = range.offset; at < end;) {
    const length = Math.min(zeros.length, end - at);
    let written: number;
    try {
      ({ bytesWritten: written } = await handle.write(zeros, 0, length, at));
    } catch (error) {
      throw new BlockDeviceEraseError(`Zeroing ${path} at byte ${at} failed: ${(error as Error).message}`);
    }
    if (written === 0) throw new BlockDeviceEraseError(`Zeroing ${path} stopped at byte ${at}: no space left`);
    at += written;
  }
}

async function openForWrite(device: BlockDevice): Promise<{ handle: FileHandle; direct: boolean }> {
  // Without O_CREAT or O_TRUNC: a path that vanished is an error, never a new file. Read and
  // write: the aligned buffer is found with a probing read.
  if (device.type === 'file') return { handle: await open(device.path, constants.O_WRONLY), direct: false };
  try {
    return { handle: await open(device.path, constants.O_RDWR | constants.O_DIRECT), direct: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    return { handle: await open(device.path, constants.O_RDWR), direct: false };
  }
}
