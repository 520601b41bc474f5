/**
 * A partition image that cannot be written is refused before the disk is touched when a cheap
 * check can tell: an image larger than root_mb (IPA's InvalidCommandParamsError and message),
 * a layout larger than the disk, an ephemeral_format the ramdisk cannot make (xfs: no
 * mkfs.xfs), and a disk that install_bootloader could not make boot afterwards (a UEFI node;
 * BIOS without enable_bios_bootloader_install), a qcow2 that can be neither decoded as it
 * streams nor converted for want of room (root partition and temp directory), where IPA wipes
 * the disk first. One whose checksum fails after it was streamed leaves nothing reported as written:
 * get_partition_uuids answers {} (also after an earlier good write) and the disk has no
 * partition table left that could pass for a deployed one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildPartitionImage, partitionImageInfo, probe, type PartitionImage } from './partition-test-images.js';
import { sha256OfRange } from './test-images.js';

const DISK_MIB = 4608;
const MIB = 1024 * 1024;
const NODE = { properties: { capabilities: 'boot_mode:bios' } };
const UEFI_NODE = { properties: { capabilities: 'boot_mode:uefi' } };
/** A partition image needs the image's grub installed afterwards: the agent must be allowed to. */
const GRUB_ALLOWED = { enableBiosBootloaderInstall: true };

const it = imageWriterTest.extend<{ image: PartitionImage }>({
  image: [async ({ scratch }, use) => use(buildPartitionImage(scratch.dir, 'refused', 'never written\n')), { scope: 'file' }],
});

/** The disk's first 256 MiB (every partition the layouts here would make) and its last MiB. */
function fingerprint(device: string, sizeBytes: number): string {
  return sha256OfRange(device, 0, 256 * MIB) + sha256OfRange(device, sizeBytes - MIB, sizeBytes);
}

/** An earlier deployment's GPT with one partition, as a disk being redeployed has. */
function oldTable(device: string): void {
  execFileSync('sgdisk', ['-o', '-n', '1:2048:+100M', '-t', '1:8300', device], { stdio: 'ignore' });
}

describe.skipIf(!canUseLoopDevices())('partition image failures', () => {
  it.for<[string, Record<string, unknown>, string, RegExp, { node?: Record<string, unknown>; grub?: boolean }?]>([
    [
      'an image larger than root_mb',
      { root_mb: 32 },
      'InvalidCommandParamsError',
      /^Root partition is too small for requested image\. Image virtual size: 48 MB, Root size: 32 MB$/,
    ],
    [
      'a layout larger than the disk',
      { root_mb: 5000 },
      'InvalidCommandParamsError',
      /^The partition layout needs 5049 MiB .* more than the 4608 MiB of \/dev\/loop\d+$/,
    ],
    [
      'an ephemeral_format the ramdisk cannot make',
      { ephemeral_format: 'xfs' },
      'FileSystemNotSupported',
      /^Failed to create a file system\. File system xfs is not supported: the ramdisk has no mkfs\.xfs$/,
    ],
    [
      'a UEFI node (its grub could not be installed)',
      { deploy_boot_mode: 'uefi' },
      'CommandExecutionError',
      /^UEFI boot of a partition image is not supported: .* Nothing was written to \/dev\/loop\d+\.$/,
      { node: UEFI_NODE },
    ],
    [
      'BIOS without enable_bios_bootloader_install',
      { root_mb: 63 },
      'InvalidImage',
      /^Install of legacy BIOS bootloaders disabled by CONF\.enable_bios_bootloader_install .* Nothing was written to \/dev\/loop\d+\.$/,
      { grub: false },
    ],
  ])('refuses %s before touching the disk', async ([, layout, type, details, options], { disks, server, image, startAgent }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    oldTable(device.path);
    const before = fingerprint(device.path, device.sizeBytes);
    const harness = await startAgent([device.path], options?.grub === false ? {} : GRUB_ALLOWED);
    const url = server.serveFile(`refused-${type}-${String(layout.root_mb)}.raw`, image.raw.path);

    const outcome = await runWriteImage(harness.client, partitionImageInfo(url, image.raw.sha256, layout), {
      node: options?.node ?? NODE,
    });

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe(type);
    expect(outcome.body.command_error.details).toMatch(details);
    expect(fingerprint(device.path, device.sizeBytes)).toBe(before);
    expect((await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result).toEqual({});
  });

  it('refuses a qcow2 with no room to convert it (not streamable, root_mb its size, a 1 MiB temp directory) before touching the disk', async ({
    disks,
    server,
    scratch,
    image,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    oldTable(device.path);
    const before = fingerprint(device.path, device.sizeBytes);
    // Extended L2 entries: qemu-img converts it, the streaming decoder does not take it.
    const qcow2 = join(scratch.dir, 'extended-l2.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'extended_l2=on', image.raw.path, qcow2]);
    const sha256 = execFileSync('sha256sum', [qcow2], { encoding: 'utf8' }).split(' ')[0]!;
    const tmp = join(scratch.dir, 'small-tmp');
    mkdirSync(tmp, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'ramdisk-agent-test', tmp]);
    const savedTmpdir = process.env.TMPDIR;
    try {
      process.env.TMPDIR = tmp; // the agent runs in this process: its scratch files would go here
      const harness = await startAgent([device.path], GRUB_ALLOWED);
      const url = server.serveFile('extended-l2.qcow2', qcow2);
      const info = partitionImageInfo(url, sha256, { disk_format: 'qcow2', root_mb: 48 });

      const outcome = await runWriteImage(harness.client, info, { node: NODE });

      expect(outcome.status).toBe('FAILED');
      expect(outcome.body.command_error.type).toBe('ImageDownloadOutofSpaceError');
      expect(outcome.body.command_error.details).toMatch(/fits neither beside its 50331648-byte expansion on \/dev\/loop\d+p3/);
      expect(fingerprint(device.path, device.sizeBytes)).toBe(before);
    } finally {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
      execFileSync('umount', [tmp]);
    }
  });

  it.for(['raw', 'qcow2'] as const)(
    'a %s image whose checksum fails: nothing reported written, no partition table left behind',
    async (format, { disks, server, image, startAgent }) => {
      const device = disks.create({ sizeMiB: DISK_MIB });
      const harness = await startAgent([device.path], GRUB_ALLOWED);
      const file = image[format];
      const url = server.serveFile(`checksum-${format}`, file.path);
      const good = await runWriteImage(harness.client, partitionImageInfo(url, file.sha256, { disk_format: format }), {
        node: NODE,
      });
      expect(good.status, JSON.stringify(good.body.command_error)).toBe('SUCCEEDED');
      const root = `${device.path}p3`; // ephemeral, swap, root
      expect(probe(root).TYPE).toBe('ext4');

      const bad = await runWriteImage(
        harness.client,
        partitionImageInfo(url, 'f'.repeat(64), { id: 'bad', disk_format: format }),
        {
          node: NODE,
        },
      );

      expect(bad.status).toBe('FAILED');
      expect(bad.body.command_error.type).toBe('ImageChecksumError');
      // The earlier write's UUIDs describe a disk that is no longer there.
      expect((await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result).toEqual({});
      expect(probe(root).TYPE).toBeUndefined();
      expect(probe(device.path).PTTYPE).toBeUndefined();
    },
  );
});
