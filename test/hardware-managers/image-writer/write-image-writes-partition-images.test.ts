/**
 * Partition images (image_info as Ironic sends it for a node whose image has a kernel and
 * ramdisk: image_type "partition", root_mb, swap_mb, ephemeral_mb, ephemeral_format,
 * configdrive) written by write_image as IPA's work_on_disk writes them, raw and qcow2, in the
 * two BIOS layouts: msdos (boot flag on root) and GPT (BIOS boot partition). UEFI is refused
 * before the disk is touched (partition-image-failures-leave-the-disk-or-nothing-reported.test.ts);
 * its ESP layout is planned as ironic-lib's (partition-layout-follows-ironic-lib.test.ts). Checked with the real tools: the table (sfdisk), each partition's file system and label
 * (blkid -p), the image's marker file in the root partition (debugfs), the config drive's
 * bytes, and get_partition_uuids' answer against blkid. A config drive over 64 MiB (the cap IPA
 * applies only to a whole-disk image's config drive partition) gets a partition of its size.
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import {
  buildPartitionImage,
  catInExt,
  partitionImageInfo,
  probe,
  sfdiskJson,
  type PartitionImage,
} from './partition-test-images.js';
import { buildConfigDrive, readRange } from './test-images.js';

const DISK_MIB = 4608;
const MIB = 1024 * 1024;
const BIOS_BOOT_GPT = '21686148-6449-6E6F-744E-656564454649';

interface Layout {
  name: string;
  bootMode: 'bios';
  capabilities: string;
  label: 'dos' | 'gpt';
  /** Partition number → role, in IPA's order. */
  roles: string[];
}

const LAYOUTS: Layout[] = [
  {
    name: 'msdos + BIOS',
    bootMode: 'bios',
    capabilities: 'boot_mode:bios',
    label: 'dos',
    roles: ['ephemeral', 'swap', 'configdrive', 'root'],
  },
  {
    name: 'GPT + BIOS',
    bootMode: 'bios',
    capabilities: 'boot_mode:bios,disk_label:gpt',
    label: 'gpt',
    roles: ['BIOS Boot partition', 'ephemeral', 'swap', 'configdrive', 'root'],
  },
];

const it = imageWriterTest.extend<{ image: PartitionImage; configdrive: { base64: string; iso: Buffer } }>({
  image: [
    async ({ scratch }, use) => use(buildPartitionImage(scratch.dir, 'part', 'partition image marker\n')),
    { scope: 'file' },
  ],
  configdrive: [async ({ scratch }, use) => use(buildConfigDrive(scratch.dir)), { scope: 'file' }],
});

describe.skipIf(!canUseLoopDevices())('write_image with a partition image', () => {
  const cases = LAYOUTS.flatMap((layout) => (['raw', 'qcow2'] as const).map((format) => ({ layout, format })));
  it.for(cases)(
    '$layout.name, $format: IPA layout, file systems, marker, config drive, UUIDs',
    async ({ layout, format }, { disks, server, image, configdrive, startAgent }) => {
      const device = disks.create({ sizeMiB: DISK_MIB });
      // A partition image is written only where its grub can be installed afterwards.
      const harness = await startAgent([device.path], { enableBiosBootloaderInstall: true });
      const file = image[format];
      const url = server.serveFile(`part-${layout.label}-${layout.bootMode}.${format}`, file.path);
      const info = partitionImageInfo(url, file.sha256, { disk_format: format, deploy_boot_mode: layout.bootMode });

      const outcome = await runWriteImage(harness.client, info, {
        configdrive: configdrive.base64,
        node: { properties: { capabilities: layout.capabilities } },
      });
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      // Streamed into the root partition: a qcow2 decoded as it arrives, no copy in RAM first.
      expect(outcome.body.command_result.deploy_result.write_method).toBe(format === 'raw' ? 'stream' : 'qcow2-stream');

      const part = (role: string) => `${device.path}p${layout.roles.indexOf(role) + 1}`;
      const table = sfdiskJson(device.path);
      expect(table.label).toBe(layout.label);
      expect(table.partitions.map((p: { node: string }) => p.node)).toEqual(
        layout.roles.map((_, i) => `${device.path}p${i + 1}`),
      );
      // Sizes in MiB from 1 MiB, root last (IPA's make_partitions).
      const sizes = Object.fromEntries(table.partitions.map((p: any, i: number) => [layout.roles[i], (p.size * 512) / MIB]));
      expect(sizes).toMatchObject({ ephemeral: 32, swap: 16, configdrive: 1, root: 64 });
      expect(table.partitions[0].start * 512).toBe(MIB);
      if (layout.label === 'dos') {
        expect(table.partitions.at(-1).bootable).toBe(true);
        expect(table.partitions.filter((p: any) => p.bootable)).toHaveLength(1);
      }
      if (layout.roles.includes('BIOS Boot partition')) {
        expect(table.partitions[0].type).toBe(BIOS_BOOT_GPT);
        expect(sizes['BIOS Boot partition']).toBe(1);
      }

      expect(probe(part('root'))).toMatchObject({ TYPE: 'ext4', LABEL: 'img-root' });
      expect(catInExt(part('root'), '/marker')).toBe(image.marker);
      expect(probe(part('swap'))).toMatchObject({ TYPE: 'swap', LABEL: 'swap1' });
      expect(probe(part('ephemeral'))).toMatchObject({ TYPE: 'ext4', LABEL: 'ephemeral0' });
      expect(probe(part('configdrive'))).toMatchObject({ TYPE: 'iso9660', LABEL: 'config-2' });
      const cdStart = table.partitions[layout.roles.indexOf('configdrive')].start * 512;
      expect(readRange(device.path, cdStart, cdStart + configdrive.iso.length).equals(configdrive.iso)).toBe(true);

      const rootUuid = probe(part('root')).UUID!;
      expect(outcome.body.command_result.deploy_result.result).toBe(
        `prepare_image: image (${info.id}) written to device ${device.path} root_uuid=${rootUuid}`,
      );
      const uuids = (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
      expect(uuids).toEqual({
        'root uuid': rootUuid,
        'efi system partition uuid': null,
        partitions: Object.fromEntries(layout.roles.map((role) => [role, part(role)])),
      });
    },
  );

  it('writes a config drive over 64 MiB into a partition of its size, as work_on_disk (no cap there)', async ({
    disks,
    server,
    image,
    scratch,
    startAgent,
  }) => {
    // 80 MiB of zeros in the ISO: the gzipped, base64 value stays small.
    const dir = join(scratch.dir, 'big-configdrive');
    mkdirSync(join(dir, 'configdrive', 'openstack', 'latest'), { recursive: true });
    const filler = join(dir, 'configdrive', 'openstack', 'latest', 'vendor_data.bin');
    writeFileSync(filler, '');
    truncateSync(filler, 80 * MIB);
    const configdrive = buildConfigDrive(dir);
    expect(configdrive.iso.length).toBeGreaterThan(64 * MIB);
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { enableBiosBootloaderInstall: true });
    const url = server.serveFile('part-big-cd.raw', image.raw.path);
    const outcome = await runWriteImage(harness.client, partitionImageInfo(url, image.raw.sha256, { deploy_boot_mode: 'bios' }), {
      configdrive: configdrive.base64,
      node: { properties: { capabilities: 'boot_mode:bios' } },
    });
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    const table = sfdiskJson(device.path);
    const cd = table.partitions[2];
    expect((cd.size * 512) / MIB).toBe(Math.ceil(configdrive.iso.length / MIB));
    expect(probe(`${device.path}p3`)).toMatchObject({ TYPE: 'iso9660', LABEL: 'config-2' });
    expect(readRange(device.path, cd.start * 512, cd.start * 512 + configdrive.iso.length).equals(configdrive.iso)).toBe(true);
  });

  it('refuses a config drive that inflates beyond the disk before inflating it all or touching the disk', async ({
    disks,
    server,
    image,
    startAgent,
  }) => {
    // 272 MiB of zeros gzip to ~270 KiB: the disk (256 MiB) bounds how far the agent inflates it.
    const bomb = gzipSync(Buffer.alloc(272 * MIB), { level: 1 }).toString('base64');
    const device = disks.create({ sizeMiB: 256, randomMiB: 8 });
    const before = readRange(device.path, 0, 8 * MIB);
    const harness = await startAgent([device.path], { enableBiosBootloaderInstall: true });
    const url = server.serveFile('part-bomb-cd.raw', image.raw.path);
    const outcome = await runWriteImage(harness.client, partitionImageInfo(url, image.raw.sha256, { deploy_boot_mode: 'bios' }), {
      configdrive: bomb,
      // Named: a disk under 4 GiB is not guessed as the root device.
      node: { properties: { capabilities: 'boot_mode:bios', root_device: { name: device.path } } },
    });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error).toMatchObject({ type: 'ConfigDriveTooLargeError' });
    expect(readRange(device.path, 0, 8 * MIB).equals(before), 'the disk is untouched').toBe(true);
  });
});
