/**
 * Memory for O_DIRECT I/O, which wants the buffer's address aligned to what the device
 * accepts (512 bytes on most, 4 KiB on 4Kn disks). Node cannot ask for aligned memory, so
 * an oversized buffer is probed: an O_DIRECT read of one 4 KiB block into a misaligned view
 * fails with EINVAL (reads are harmless), the first offset that reads is aligned.
 */
import type { FileHandle } from 'node:fs/promises';
import { BlockDeviceEraseError } from '../../src/hardware/index.js';

/** The largest alignment a device asks for: 4 KiB covers 512e and 4Kn disks. */
export const DIRECT_IO_ALIGNMENT = 4096;

/** A zeroed `bytes`-long buffer whose start suits O_DIRECT on `handle` (opened with O_DIRECT). */
export async function alignedBuffer(handle: FileHandle, bytes: number): Promise<Buffer> {
  const raw = Buffer.alloc(Math.max(bytes, DIRECT_IO_ALIGNMENT) + DIRECT_IO_ALIGNMENT);
  for (let shift = 0; shift < DIRECT_IO_ALIGNMENT; shift += 8) {
    try {
      await handle.read(raw, shift, DIRECT_IO_ALIGNMENT, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EINVAL') continue;
      throw error;
    }
    // What the probe read is no zero.
    return raw.fill(0).subarray(shift, shift + bytes);
  }
  throw new BlockDeviceEraseError('could not find an O_DIRECT-aligned offset in a buffer');
}
