// The read-back after a zero pass reads the device itself: data left between the first and
// last MiB is found by the random sample, and pages the kernel cached before a hardware
// erase (which changes the medium behind the page cache) do not hide that the medium now
// holds zeros, or that it does not. Real loop devices; the "medium" is the backing file.
import { closeSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyZeroed } from '../../../hardware-managers/generic-disk-erase/verify.js';
import { listBlockDevices, type BlockDevice } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const MIB = 1024 * 1024;
const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

const { ctx } = createFakeStepContext({ exec: 'real' });

async function describe_(device: ScratchDevice): Promise<BlockDevice> {
  const [listed] = await listBlockDevices(ctx.exec, { devices: [device.path] });
  expect(listed?.type).toBe('loop');
  return listed!;
}

/** Writes zeros straight to the backing file: the loop device's own page cache is not told. */
function zeroBehindTheCache(device: ScratchDevice, offset: number, length: number): void {
  const fd = openSync(device.file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(length), 0, length, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const asRoot = it.runIf(process.getuid?.() === 0);

describe('the zero verification', () => {
  asRoot('finds data left between the first and the last MiB', async () => {
    const device = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    zeroBehindTheCache(device, 0, MIB);
    zeroBehindTheCache(device, 7 * MIB, MIB);
    const outcome = await verifyZeroed(ctx, await describe_(device));
    expect(outcome.passed).toBe(false);
    const offset = Number(/^non-zero byte at offset (\d+)$/.exec(outcome.problem ?? '')?.[1]);
    expect(offset).toBeGreaterThanOrEqual(MIB);
    expect(offset).toBeLessThan(7 * MIB);
  });

  asRoot('reads the medium, not pages cached before the erase', async () => {
    const device = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    // Cache the random content in the loop device's page cache (kept while someone holds
    // the device open), then zero the medium.
    const holder = openSync(device.path, 'r');
    try {
      readFileSync(holder);
      zeroBehindTheCache(device, 0, 8 * MIB);
      // The cache still holds the old data: a plain read would fail the check.
      const cached = Buffer.alloc(MIB);
      readSync(holder, cached, 0, MIB, 0);
      expect(cached.some((byte) => byte !== 0)).toBe(true);
      const outcome = await verifyZeroed(ctx, await describe_(device));
      expect(outcome).toMatchObject({ method: 'zero_sample', passed: true });
      expect(outcome.checked).toBe('first and last MiB and 64 random 4096-byte blocks read back as zeros');
    } finally {
      closeSync(holder);
    }
  });
  asRoot('a device whose last MiB still holds data fails, naming an offset there', async () => {
    const device = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    zeroBehindTheCache(device, 0, 7 * MIB);
    const outcome = await verifyZeroed(ctx, await describe_(device));
    expect(outcome.passed).toBe(false);
    const offset = Number(/^non-zero byte at offset (\d+)$/.exec(outcome.problem ?? '')?.[1]);
    expect(offset).toBeGreaterThanOrEqual(7 * MIB);
  });
});
