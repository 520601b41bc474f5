/**
 * A rebuild with preserve_ephemeral (Ironic's `openstack server rebuild --preserve-ephemeral`)
 * writes the new image into the root partition of the layout already on the disk and leaves
 * the ephemeral partition and its files alone, as IPA's work_on_disk with commit=False. A
 * layout that differs from the one on the disk is refused before anything is written; a
 * rebuild's config drive smaller than the first one's goes into the config drive partition
 * already there.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildPartitionImage, catInExt, partitionImageInfo, probe, type PartitionImage } from './partition-test-images.js';
import { buildConfigDrive, readRange } from './test-images.js';

const DISK_MIB = 4608;
const NODE = { properties: { capabilities: 'boot_mode:bios,disk_label:gpt' } };

const it = imageWriterTest.extend<{ first: PartitionImage; second: PartitionImage }>({
  first: [async ({ scratch }, use) => use(buildPartitionImage(scratch.dir, 'first', 'first deployment\n')), { scope: 'file' }],
  second: [async ({ scratch }, use) => use(buildPartitionImage(scratch.dir, 'second', 'rebuilt\n')), { scope: 'file' }],
});

describe.skipIf(!canUseLoopDevices())('preserve_ephemeral', () => {
  it('rebuilds root, keeps the ephemeral file system and its files; a changed layout is refused', async ({
    disks,
    server,
    scratch,
    first,
    second,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { enableBiosBootloaderInstall: true });
    const configdrive = buildConfigDrive(scratch.dir);
    // BIOS on GPT: BIOS boot partition 1, ephemeral 2, swap 3, config drive 4, root 5.
    const ephemeral = `${device.path}p2`;
    const root = `${device.path}p5`;
    const deployed = await runWriteImage(
      harness.client,
      partitionImageInfo(server.serveFile('first.raw', first.raw.path), first.raw.sha256),
      { configdrive: configdrive.base64, node: NODE },
    );
    expect(deployed.status, JSON.stringify(deployed.body.command_error)).toBe('SUCCEEDED');
    const kept = join(scratch.dir, 'kept.txt');
    writeFileSync(kept, 'user data on the ephemeral disk\n');
    execFileSync('debugfs', ['-w', '-R', `write ${kept} kept.txt`, ephemeral], { stdio: 'ignore' });
    const ephemeralUuid = probe(ephemeral).UUID;

    const secondUrl = server.serveFile('second.qcow2', second.qcow2.path);
    const rebuilt = await runWriteImage(
      harness.client,
      partitionImageInfo(secondUrl, second.qcow2.sha256, { id: 'second', disk_format: 'qcow2', preserve_ephemeral: true }),
      { configdrive: configdrive.base64, node: NODE },
    );

    expect(rebuilt.status, JSON.stringify(rebuilt.body.command_error)).toBe('SUCCEEDED');
    expect(catInExt(root, '/marker')).toBe(second.marker);
    expect(catInExt(ephemeral, '/kept.txt')).toBe('user data on the ephemeral disk\n');
    expect(probe(ephemeral)).toMatchObject({ TYPE: 'ext4', LABEL: 'ephemeral0', UUID: ephemeralUuid });
    const uuids = (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
    expect(uuids['root uuid']).toBe(probe(root).UUID);
    expect(uuids.partitions.ephemeral).toBe(ephemeral);

    // Ironic refuses a flavor change with preserve_ephemeral; a disk that does not match is refused here too.
    const changed = await runWriteImage(
      harness.client,
      partitionImageInfo(server.serveFile('first-again.raw', first.raw.path), first.raw.sha256, {
        id: 'changed',
        ephemeral_mb: 64,
        preserve_ephemeral: true,
      }),
      { configdrive: configdrive.base64, node: NODE },
    );
    expect(changed.status).toBe('FAILED');
    expect(changed.body.command_error.type).toBe('DeploymentError');
    expect(changed.body.command_error.details).toMatch(
      /^Cannot preserve the ephemeral partition on \/dev\/loop\d+: partition 2 \(ephemeral\) spans \d+\+33554432 bytes, not \d+\+67108864/,
    );
    expect(catInExt(root, '/marker')).toBe(second.marker);
    expect(catInExt(ephemeral, '/kept.txt')).toBe('user data on the ephemeral disk\n');
  });

  it("writes a rebuild's smaller config drive into the 2 MiB config drive partition already there", async ({
    disks,
    server,
    scratch,
    first,
    second,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { enableBiosBootloaderInstall: true });
    // The first deployment's config drive holds 1.5 MiB of data: a 2 MiB partition.
    const bigDir = join(scratch.dir, 'big-configdrive');
    mkdirSync(join(bigDir, 'configdrive', 'openstack', 'latest'), { recursive: true });
    writeFileSync(join(bigDir, 'configdrive', 'openstack', 'latest', 'vendor_data.bin'), randomBytes(1536 * 1024));
    const big = buildConfigDrive(bigDir);
    const smallDir = join(scratch.dir, 'small-configdrive');
    mkdirSync(smallDir, { recursive: true });
    const small = buildConfigDrive(smallDir, '0b1f4a44-5d8e-4c1a-9a51-6f0f8e2b7c33');
    const ephemeral = `${device.path}p2`;
    const configdrivePartition = `${device.path}p4`;
    const root = `${device.path}p5`;

    const deployed = await runWriteImage(
      harness.client,
      partitionImageInfo(server.serveFile('first-big-cd.raw', first.raw.path), first.raw.sha256),
      { configdrive: big.base64, node: NODE },
    );
    expect(deployed.status, JSON.stringify(deployed.body.command_error)).toBe('SUCCEEDED');
    const kept = join(scratch.dir, 'kept-2.txt');
    writeFileSync(kept, 'kept across the rebuild\n');
    execFileSync('debugfs', ['-w', '-R', `write ${kept} kept.txt`, ephemeral], { stdio: 'ignore' });
    const sizeOf = (path: string) => Number(execFileSync('blockdev', ['--getsize64', path], { encoding: 'utf8' }).trim());
    expect(sizeOf(configdrivePartition)).toBe(2 * 1024 * 1024);

    const rebuilt = await runWriteImage(
      harness.client,
      partitionImageInfo(server.serveFile('second-small-cd.raw', second.raw.path), second.raw.sha256, {
        id: 'second-small-cd',
        preserve_ephemeral: true,
      }),
      { configdrive: small.base64, node: NODE },
    );

    expect(rebuilt.status, JSON.stringify(rebuilt.body.command_error)).toBe('SUCCEEDED');
    expect(sizeOf(configdrivePartition), 'not repartitioned').toBe(2 * 1024 * 1024);
    expect(readRange(configdrivePartition, 0, small.iso.length).equals(small.iso), 'the new config drive').toBe(true);
    expect(catInExt(root, '/marker')).toBe(second.marker);
    expect(catInExt(ephemeral, '/kept.txt')).toBe('kept across the rebuild\n');
  });
});
