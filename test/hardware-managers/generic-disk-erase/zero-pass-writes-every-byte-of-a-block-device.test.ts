// The zero pass on a block device is written by the agent (O_DIRECT, several writes in
// flight): on a real loop device every byte reads back as zero, including a tail shorter
// than one write, progress ends at the device size, and an aborted step writes nothing more.
import { afterEach, describe, expect, it } from 'vitest';
import { writeZeros } from '../../../hardware-managers/generic-disk-erase/zero-writer.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { isAllZero, sha256 } from './helpers.js';

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

describe('the zero pass on a block device', () => {
  it.runIf(process.getuid?.() === 0)('zeroes every byte, a size that is no multiple of the write size included', async () => {
    // 21 MiB: five 4 MiB writes and a 1 MiB remainder, random at both ends.
    const device = scratch.create({ sizeMiB: 21, randomMiB: 21 });
    expect(device.isLoop).toBe(true);
    expect(isAllZero(device.file)).toBe(false);
    const progress: number[] = [];
    await writeZeros(device.path, device.sizeBytes, {
      signal: new AbortController().signal,
      timeoutMs: 60_000,
      onBytes: (bytes) => progress.push(bytes),
    });
    expect(isAllZero(device.file)).toBe(true);
    expect(progress.at(-1)).toBe(device.sizeBytes);
    expect(progress.every((bytes, i) => i === 0 || bytes >= progress[i - 1]!)).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)('an aborted step fails the pass without writing', async () => {
    const device = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const before = sha256(device.file);
    const controller = new AbortController();
    controller.abort();
    await expect(
      writeZeros(device.path, device.sizeBytes, { signal: controller.signal, timeoutMs: 60_000, onBytes: () => undefined }),
    ).rejects.toMatchObject({ type: 'BlockDeviceEraseError', details: expect.stringMatching(/was aborted at byte 0/) });
    expect(sha256(device.file)).toBe(before);
  });
});
