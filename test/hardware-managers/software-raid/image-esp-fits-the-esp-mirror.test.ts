/**
 * The image's ESP copied onto the ESP mirror of a software RAID root (IPA's
 * prepare_boot_partitions_for_softraid). A diskimage-builder image's ESP is 550 MiB, as
 * large as each mirror member, and the mirror (metadata 1.0: superblock at the end) is a
 * little smaller than its members: the filesystem does not fit byte for byte, and its files
 * go into a fresh FAT with the image ESP's UUID and label, as IPA copies them since its bug
 * 2090993. An ESP that fits is still copied byte for byte. Loop devices of the test stand in
 * for the image's ESP partition and the md device (this machine's kernel has no md driver);
 * FAT is read with mtools, nothing is mounted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyImageEsp } from '../../../hardware-managers/software-raid/esp-copy.js';
import { hasCommand, SoftwareRAIDError } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { readBytes } from '../../helpers/file-bytes.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const MTOOLS = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
// mtools warns that a loop device has no geometry; only stdout is wanted.
const QUIET = { env: MTOOLS, stdio: ['ignore', 'pipe', 'ignore'] as ('ignore' | 'pipe')[] };
const runnable = canUseLoopDevices() && (await hasCommand('mkfs.vfat')) && (await hasCommand('mcopy'));

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

/** An image's ESP: FAT with a UUID, a label and a boot tree, on a device of `sizeMiB`. */
function imageEsp(sizeMiB: number): ScratchDevice {
  const esp = scratch.create({ sizeMiB });
  execFileSync('mkfs.vfat', ['-n', 'EFI-SYSTEM', '-i', '5A7B1C2D', esp.path], { stdio: 'ignore' });
  execFileSync('mmd', ['-i', esp.path, '::/EFI', '::/EFI/BOOT', '::/EFI/ubuntu', '::/EFI/empty'], QUIET);
  const files: Record<string, string> = {
    'EFI/BOOT/BOOTX64.EFI': 'MZ shim',
    'EFI/ubuntu/grub.cfg': "search.fs_uuid 0d1e2f30 root\nconfigfile ($root)'/boot/grub/grub.cfg'\n",
    'EFI/ubuntu/BOOTX64.CSV': 'shimx64.efi,ubuntu,,This is the boot entry for ubuntu\n',
  };
  for (const [path, content] of Object.entries(files)) {
    const local = join(scratch.dir, 'staged');
    writeFileSync(local, content);
    execFileSync('mcopy', ['-i', esp.path, local, `::/${path}`], QUIET);
  }
  return esp;
}

/** Every file of a FAT device with its content, and its UUID and label as blkid reads them. */
function fatContents(device: string): { uuid: string; label: string; files: Record<string, string> } {
  // blkid exits 2 when it finds no filesystem.
  const probe = spawnSync('blkid', ['-p', '-o', 'export', device], { encoding: 'utf8' }).stdout;
  if (!probe.includes('TYPE=vfat')) return { uuid: '', label: '', files: {} };
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(probe)?.[1] ?? '';
  // mdir exits 1 on an empty filesystem.
  const listing = spawnSync('mdir', ['-/', '-a', '-b', '-i', device, '::/'], { ...QUIET, encoding: 'utf8' }).stdout;
  const files: Record<string, string> = {};
  for (const entry of listing.split('\n').map((l) => l.trim())) {
    if (!entry.startsWith('::/')) continue;
    files[entry.slice(3)] = entry.endsWith('/')
      ? '<dir>'
      : execFileSync('mtype', ['-i', device, entry], { ...QUIET, encoding: 'utf8' });
  }
  return { uuid: field('UUID'), label: field('LABEL'), files };
}

function context(...devices: ScratchDevice[]) {
  return createFakeStepContext({ phase: 'deploy', exec: 'real', allowDevices: devices.map((d) => d.path) }).ctx;
}

describe.skipIf(!runnable)("the image's ESP on the ESP mirror", () => {
  it('copies the files of an ESP as large as the mirror members into a FAT with its UUID and label', async () => {
    const source = imageEsp(24);
    // The mirror: its members' size less the metadata 1.0 superblock area at their end.
    const mirror = scratch.create({ sizeMiB: 24 - 0.125 });
    const before = fatContents(source.path);

    await copyImageEsp(context(source, mirror), source.path, mirror.path);

    const after = fatContents(mirror.path);
    expect(after.uuid).toBe('5A7B-1C2D');
    expect(after.label).toBe('EFI-SYSTEM');
    expect(after.files).toEqual(before.files);
    expect(Object.keys(after.files)).toContain('EFI/empty/');
    // The source is left as it was (the caller wipes its signature afterwards).
    expect(fatContents(source.path)).toEqual(before);
  });

  it('still copies an ESP that fits byte for byte', async () => {
    const source = imageEsp(8);
    const mirror = scratch.create({ sizeMiB: 16 });
    await copyImageEsp(context(source, mirror), source.path, mirror.path);
    expect(readBytes(mirror.path, 0, 8 * 1024 * 1024).equals(readBytes(source.path, 0, 8 * 1024 * 1024))).toBe(true);
  });

  it('makes an empty FAT with the UUID and label of an empty image ESP that does not fit', async () => {
    const source = scratch.create({ sizeMiB: 16 });
    execFileSync('mkfs.vfat', ['-n', 'EMPTY', '-i', '0A0B0C0D', source.path], { stdio: 'ignore' });
    const mirror = scratch.create({ sizeMiB: 12 });
    await copyImageEsp(context(source, mirror), source.path, mirror.path);
    expect(fatContents(mirror.path)).toEqual({ uuid: '0A0B-0C0D', label: 'EMPTY', files: {} });
  });

  it("refuses with IPA's message when the files themselves do not fit", async () => {
    const source = imageEsp(24);
    const big = join(scratch.dir, 'big');
    writeFileSync(big, Buffer.alloc(10 * 1024 * 1024, 1));
    execFileSync('mcopy', ['-i', source.path, big, '::/EFI/big.bin'], QUIET);
    const mirror = scratch.create({ sizeMiB: 8 });
    const error = await copyImageEsp(context(source, mirror), source.path, mirror.path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SoftwareRAIDError);
    expect((error as SoftwareRAIDError).details).toMatch(/^ESP content \(\d+ bytes\) exceeds md device size \(8388608 bytes\)$/);
    expect(fatContents(mirror.path).uuid).toBe('');
  });
});
