/**
 * Memory for O_DIRECT I/O on a block device. O_DIRECT wants the buffer's address, the offset
 * and the length aligned to what the device accepts (its logical block size on older kernels,
 * its DMA alignment on newer ones: 512 bytes on most disks, 4 KiB on 4Kn ones). Node cannot
 * ask for aligned memory, so an oversized buffer is probed: an O_DIRECT read of one block
 * into a misaligned view fails at once with EINVAL (no I/O), and the first offset whose read
 * is accepted is aligned. The probe only reads, so it is harmless on any device.
 */
import type { FileHandle } from 'node:fs/promises';

/**
 * The alignment that suits every device: 4 KiB covers 512-byte, 512e and 4Kn disks. Offsets
 * and lengths of O_DIRECT I/O that are multiples of it are accepted everywhere.
 */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * Misaligned probes fail at once but each is a trip through libuv's pool: asked a few at a
 * time, a 512-byte-aligned offset (up to 64 candidates) is found in a few trips, not 64.
 * Eight offsets within 64 bytes: one of them suits a device that wants 64-byte alignment or
 * more; where it wants less, several reads land in the same bytes, which is harmless.
 */
const PROBES_AT_ONCE = 8;
const PROBE_STEP = 8;

/**
 * A `bytes`-long buffer whose start suits O_DIRECT I/O on `handle`, a block device opened with
 * O_DIRECT (on a plain file a read of a hole is accepted at any offset, so the probe would
 * prove nothing). The buffer is a view of `memory` when given (at least
 * `max(bytes, DIRECT_IO_ALIGNMENT) + DIRECT_IO_ALIGNMENT` bytes: shared memory a worker
 * reads, say), of zeroed memory otherwise; the bytes the probe read are zeroed again, so
 * memory that held zeros still does.
 *
 * Undefined when O_DIRECT cannot be used with confidence: the device has nothing to read at
 * offset 0 (every read ends before the alignment is checked), or it refuses a
 * DIRECT_IO_ALIGNMENT-byte read at every offset. The caller goes through the page cache then,
 * or gives up. Any other error of the probe's read (EIO, say) is thrown.
 */
export async function directIoBuffer(handle: FileHandle, bytes: number, memory?: Buffer): Promise<Buffer | undefined> {
  const needed = Math.max(bytes, DIRECT_IO_ALIGNMENT) + DIRECT_IO_ALIGNMENT;
  if (memory && memory.length < needed) {
    throw new RangeError(`a ${bytes}-byte O_DIRECT buffer needs ${needed} bytes of memory to be found in, not ${memory.length}`);
  }
  const raw = memory ?? Buffer.alloc(needed);
  try {
    for (let first = 0; first < DIRECT_IO_ALIGNMENT; first += PROBES_AT_ONCE * PROBE_STEP) {
      const shifts = Array.from({ length: PROBES_AT_ONCE }, (_, i) => first + i * PROBE_STEP);
      // Settled, not raced: no read is still landing in the memory once this returns.
      const settled = await Promise.allSettled(shifts.map((shift) => probe(handle, raw, shift)));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const reads = settled.map((s) => (s as PromiseFulfilledResult<number | undefined>).value);
      const found = reads.findIndex((read) => read !== undefined);
      if (found < 0) continue;
      return reads[found]! > 0 ? raw.subarray(shifts[found]!, shifts[found]! + bytes) : undefined;
    }
    return undefined;
  } finally {
    // What the probe read is no zero: every read landed in the first two blocks.
    raw.fill(0, 0, 2 * DIRECT_IO_ALIGNMENT);
  }
}

/** Bytes read into `raw` at `shift` from the device's start, or undefined when the offset is refused. */
async function probe(handle: FileHandle, raw: Buffer, shift: number): Promise<number | undefined> {
  try {
    return (await handle.read(raw, shift, DIRECT_IO_ALIGNMENT, 0)).bytesRead;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw error;
  }
}
