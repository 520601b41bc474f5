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

/**
 * Misaligned probes fail at once (EINVAL, no I/O) but each is a trip through libuv's pool:
 * asked a few at a time, a 512-byte-aligned offset (up to 64 candidates) is found in a few
 * trips instead of up to 64.
 */
const PROBES_AT_ONCE = 8;
const PROBE_STEP = 8;

/** A zeroed `bytes`-long buffer whose start suits O_DIRECT on `handle` (opened with O_DIRECT). */
export async function alignedBuffer(handle: FileHandle, bytes: number): Promise<Buffer> {
  const raw = Buffer.alloc(Math.max(bytes, DIRECT_IO_ALIGNMENT) + DIRECT_IO_ALIGNMENT);
  for (let first = 0; first < DIRECT_IO_ALIGNMENT; first += PROBES_AT_ONCE * PROBE_STEP) {
    const shifts = Array.from({ length: PROBES_AT_ONCE }, (_, i) => first + i * PROBE_STEP);
    // Eight offsets within 64 bytes: one read lands where the device wants 64-byte alignment
    // or more; where it wants less, several land in the same bytes, zeroed afterwards.
    const reads = await Promise.all(
      shifts.map(async (shift) => {
        try {
          await handle.read(raw, shift, DIRECT_IO_ALIGNMENT, 0);
          return true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
          throw error;
        }
      }),
    );
    const found = reads.indexOf(true);
    // What the probe read is no zero.
    if (found >= 0) return raw.fill(0).subarray(shifts[found]!, shifts[found]! + bytes);
  }
  throw new BlockDeviceEraseError('could not find an O_DIRECT-aligned offset in a buffer');
}
