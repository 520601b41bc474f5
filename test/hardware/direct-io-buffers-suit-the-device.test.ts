// directIoBuffer, the contract's memory for O_DIRECT I/O, on real loop devices: the buffer it
// finds is accepted for O_DIRECT writes and reads where a view a few bytes off is refused,
// on 512-byte and 4 KiB-sector devices; it is zeroed, or placed in memory the caller gives;
// a device with nothing to read proves nothing and gets none.
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DIRECT_IO_ALIGNMENT, directIoBuffer } from '../../src/hardware/index.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

async function withDirectHandle<T>(path: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  const handle = await open(path, constants.O_RDWR | constants.O_DIRECT);
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

/** A view of an aligned buffer's memory moved by `shift` bytes. */
function shifted(buffer: Buffer, shift: number, length: number): Buffer {
  return Buffer.from(buffer.buffer, buffer.byteOffset + shift, length);
}

describe.runIf(canUseLoopDevices())('directIoBuffer on a block device', () => {
  it.each([512, 4096])('finds memory O_DIRECT accepts on a %i-byte-sector device', async (sectorBytes) => {
    const device = scratch.create({ sizeMiB: 4, randomMiB: 1 });
    execFileSync('losetup', ['--sector-size', String(sectorBytes), device.path]);
    await withDirectHandle(device.path, async (handle) => {
      const buffer = await directIoBuffer(handle, 64 * 1024);
      expect(buffer?.length).toBe(64 * 1024);
      expect(buffer!.every((byte) => byte === 0)).toBe(true);
      // The device checks alignment: a view a few bytes off is refused.
      const off = shifted(buffer!, 8, DIRECT_IO_ALIGNMENT);
      await expect(handle.write(off, 0, DIRECT_IO_ALIGNMENT, 0)).rejects.toMatchObject({ code: 'EINVAL' });
      buffer!.fill(0xa5);
      await expect(handle.write(buffer!, 0, buffer!.length, DIRECT_IO_ALIGNMENT)).resolves.toMatchObject({
        bytesWritten: buffer!.length,
      });
      buffer!.fill(0);
      await handle.read(buffer!, 0, buffer!.length, DIRECT_IO_ALIGNMENT);
      expect(buffer!.every((byte) => byte === 0xa5)).toBe(true);
    });
  });

  it('places the buffer in memory the caller gives, the probe leaving no data behind', async () => {
    const device = scratch.create({ sizeMiB: 1, randomMiB: 1 });
    const memory = Buffer.from(new SharedArrayBuffer(8 * 1024 + DIRECT_IO_ALIGNMENT));
    await withDirectHandle(device.path, async (handle) => {
      const buffer = await directIoBuffer(handle, 8 * 1024, memory);
      expect(buffer?.buffer).toBe(memory.buffer);
      expect(memory.every((byte) => byte === 0)).toBe(true);
      await expect(handle.read(buffer!, 0, buffer!.length, 0)).resolves.toMatchObject({ bytesRead: buffer!.length });
      // Too little memory to find an aligned start in is the caller's mistake, said at once.
      await expect(directIoBuffer(handle, 8 * 1024, memory.subarray(1))).rejects.toThrow(RangeError);
    });
  });

  it('gives none for a device with nothing to read, which proves no alignment', async () => {
    const device = scratch.create({ sizeMiB: 0 });
    await withDirectHandle(device.path, async (handle) => {
      // Reads at the end succeed at any offset: even a misaligned one.
      const misaligned = shifted(Buffer.alloc(2 * DIRECT_IO_ALIGNMENT), 1, DIRECT_IO_ALIGNMENT);
      await expect(handle.read(misaligned, 0, DIRECT_IO_ALIGNMENT, 0)).resolves.toMatchObject({ bytesRead: 0 });
      await expect(directIoBuffer(handle, DIRECT_IO_ALIGNMENT)).resolves.toBeUndefined();
    });
  });
});
