/**
 * standby.prepare_image as IPA serves it: image_info validated before the command starts
 * (HTTP 400 with IPA's messages; a partition image without its layout's sizes), then the async write with the
 * config drive in a new partition at the disk's end labelled config-2 (GPT and MBR), found
 * by `blkid -L config-2`; standby.get_partition_uuids with IPA's keys matching blkid.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildConfigDrive, buildGptImage, buildMbrImage, readRange, type TestImage } from './test-images.js';

const DISK_MIB = 4608;
const blkid = (...args: string[]) => execFileSync('blkid', args, { encoding: 'utf8' }).trim();

/**
 * `blkid -L config-2` once the previous test's disk is gone: a detached loop device that
 * something still had open lingers until its last close (autoclear), with its partitions.
 */
async function configDriveByLabel(expected: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all = execFileSync('blkid', ['-o', 'device', '-t', 'LABEL=config-2'], { encoding: 'utf8' }).trim().split('\n');
    if (all.length === 1 || Date.now() > deadline) {
      expect(all).toContain(expected);
      return blkid('-L', 'config-2');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const it = imageWriterTest.extend<{ gpt: TestImage; mbr: TestImage; configdrive: { base64: string; iso: Buffer } }>({
  gpt: [async ({ scratch }, use) => use(buildGptImage(scratch.dir)), { scope: 'file' }],
  mbr: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir)), { scope: 'file' }],
  configdrive: [async ({ scratch }, use) => use(buildConfigDrive(scratch.dir)), { scope: 'file' }],
});

// blkid -L searches every device: each test's disks are detached before the next test starts.
describe.skipIf(!canUseLoopDevices())('standby.prepare_image and the config drive', () => {
  it.for<[Record<string, unknown>, string | RegExp]>([
    [{ urls: ['http://x/y'] }, "Image is missing 'id' field."],
    [{ id: 'a' }, "Image is missing 'urls' field."],
    [{ id: 'a', urls: [] }, "Image 'urls' must be a list with at least one element."],
    [{ id: 'a', urls: ['http://x/a'], checksum: '' }, "Image 'checksum' must be a non-empty string."],
    [{ id: 'a', urls: ['http://x/a'], os_hash_algo: 'sha256' }, "Image 'os_hash_value' must be a non-empty string."],
    [
      { id: 'a', urls: ['http://x/a'] },
      "Image checksum is not available, either the 'checksum' field or the 'os_hash_algo' and 'os_hash_value' fields must be provided.",
    ],
    [
      { id: 'a', urls: ['http://x/a'], checksum: 'a'.repeat(64), image_type: 'partition' },
      "Image a is a partition image: 'root_mb' is required",
    ],
    [
      { id: 'a', urls: ['http://x/a'], checksum: 'a'.repeat(64), image_type: 'partition', root_mb: 1024, swap_mb: -1 },
      "Image a is a partition image: 'swap_mb' must be a non-negative integer of MiB, not -1",
    ],
  ])('answers 400 before starting for invalid image_info %j', async ([info, message], { disks, startAgent }) => {
    const device = disks.create({ sizeMiB: 64 });
    const harness = await startAgent([device.path]);
    const response = await harness.client.post('standby.prepare_image', { image_info: info });
    expect(response.status).toBe(400);
    expect(response.body.faultstring).toMatch(
      typeof message === 'string' ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : message,
    );
    expect((await harness.client.list()).body.commands).toEqual([]);
  });

  it('refuses a 32-digit MD5 checksum with 400 when md5 is disabled', async ({ disks, startAgent }) => {
    const device = disks.create({ sizeMiB: 64 });
    const harness = await startAgent([device.path], { md5Enabled: false });
    const response = await harness.client.post('standby.prepare_image', {
      image_info: { id: 'a', urls: ['http://x/a'], checksum: 'a'.repeat(32) },
    });
    expect(response.status).toBe(400);
    expect(response.body.faultstring).toMatch(/Image checksum is not available/);
  });

  it('writes a GPT image with the config drive in a new last partition labelled config-2, found by blkid -L', async ({
    disks,
    server,
    gpt,
    configdrive,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('cd-gpt.raw', gpt.path);

    const started = await harness.client.post('standby.prepare_image', {
      image_info: imageInfo(url, gpt.sha256),
      configdrive: configdrive.base64,
    });
    expect(started.status).toBe(200);
    expect(started.body.command_status).toBe('RUNNING');
    const done = await harness.client.waitFor(started.body.id);

    expect(done.command_status, JSON.stringify(done.command_error)).toBe('SUCCEEDED');
    expect(done.command_result.result).toMatch(
      new RegExp(`^prepare_image: image \\(cd-gpt.raw\\) written to device ${device.path} root_uuid=0x00000000$`),
    );
    const partition = await configDriveByLabel(`${device.path}p3`);
    expect(partition).toBe(`${device.path}p3`);
    expect(blkid('-p', '-s', 'TYPE', '-o', 'value', partition)).toBe('iso9660');
    // The partition holds exactly the ISO, at the end of the disk.
    const table = JSON.parse(execFileSync('sfdisk', ['--json', device.path], { encoding: 'utf8' })).partitiontable;
    const last = table.partitions.at(-1);
    expect(last.node).toBe(partition);
    expect((last.start + last.size) * 512).toBeGreaterThan(device.sizeBytes - 2 * 1024 * 1024);
    expect(readRange(device.path, last.start * 512, last.start * 512 + configdrive.iso.length).equals(configdrive.iso)).toBe(
      true,
    );

    const uuids = (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
    expect(uuids['root uuid']).toBe('0x00000000');
    expect(uuids['efi system partition uuid']).toBe(blkid('-p', '-s', 'PART_ENTRY_UUID', '-o', 'value', `${device.path}p1`));
    expect(uuids.partitions).toEqual({ 'efi system partition': `${device.path}p1`, configdrive: partition });
  });

  it('adds the config drive to an MBR image as a primary partition, keeping the disk signature, the same way when written again', async ({
    disks,
    server,
    mbr,
    configdrive,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('cd-mbr.raw', mbr.path);
    const info = imageInfo(url, mbr.sha256);

    const first = await harness.client.waitFor(
      (await harness.client.post('standby.prepare_image', { image_info: info, configdrive: configdrive.base64 })).body.id,
    );
    expect(first.command_status, JSON.stringify(first.command_error)).toBe('SUCCEEDED');
    expect(first.command_result.result).toMatch(/root_uuid=0x1a2b3c4d$/);
    const partition = await configDriveByLabel(`${device.path}p3`);
    expect(partition).toBe(`${device.path}p3`);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', device.path], { encoding: 'utf8' })).partitiontable;
    expect(table.label).toBe('dos');
    expect(table.partitions.at(-1).type).toBe('c');

    const uuids = (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
    expect(uuids['root uuid']).toBe('0x1a2b3c4d');
    expect(uuids['efi system partition uuid']).toBe(blkid('-p', '-s', 'PART_ENTRY_UUID', '-o', 'value', `${device.path}p1`));
    expect(uuids['efi system partition uuid']).toBe('1a2b3c4d-01');

    const again = await harness.client.waitFor(
      (await harness.client.post('standby.prepare_image', { image_info: info, configdrive: configdrive.base64 })).body.id,
    );
    expect(again.command_status, JSON.stringify(again.command_error)).toBe('SUCCEEDED');
    const after = JSON.parse(execFileSync('sfdisk', ['--json', device.path], { encoding: 'utf8' })).partitiontable;
    expect(after.partitions.length).toBe(3);
    expect(await configDriveByLabel(`${device.path}p3`)).toBe(`${device.path}p3`);
  });

  it('downloads the config drive when Ironic sends a URL to it', async ({ disks, server, gpt, configdrive, startAgent }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('cd-url.raw', gpt.path);
    const configdriveUrl = server.serveBuffer('configdrive.b64', configdrive.base64);

    const done = await harness.client.waitFor(
      (
        await harness.client.post('standby.prepare_image', {
          image_info: imageInfo(url, gpt.sha256),
          configdrive: configdriveUrl,
        })
      ).body.id,
    );

    expect(done.command_status, JSON.stringify(done.command_error)).toBe('SUCCEEDED');
    const partition = await configDriveByLabel(`${device.path}p3`);
    expect(partition).toBe(`${device.path}p3`);
    expect(blkid('-p', '-s', 'TYPE', '-o', 'value', partition)).toBe('iso9660');
  });

  it('fails a config drive over 64 MiB with ConfigDriveTooLargeError before touching the disk', async ({
    disks,
    server,
    gpt,
    startAgent,
  }) => {
    const { gzipSync } = await import('node:zlib');
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const marker = Buffer.from('untouched disk marker');
    execFileSync('dd', [`of=${device.path}`, 'conv=notrunc', 'status=none'], { input: marker });
    const tooLarge = gzipSync(Buffer.alloc(65 * 1024 * 1024)).toString('base64');

    const done = await harness.client.waitFor(
      (
        await harness.client.post('standby.prepare_image', {
          image_info: imageInfo(server.serveFile('cd-big.raw', gpt.path), gpt.sha256),
          configdrive: tooLarge,
        })
      ).body.id,
    );

    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('ConfigDriveTooLargeError');
    expect(readRange(device.path, 0, marker.length).equals(marker)).toBe(true);
  });

  it('answers {} from get_partition_uuids before any image was written', async ({ disks, startAgent }) => {
    const device = disks.create({ sizeMiB: 64 });
    const harness = await startAgent([device.path]);
    const response = await harness.client.post('standby.get_partition_uuids', {}, true);
    expect(response.body.command_status).toBe('SUCCEEDED');
    expect(response.body.command_result).toEqual({});
  });
});
