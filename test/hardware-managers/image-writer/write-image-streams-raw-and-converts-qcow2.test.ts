/**
 * write_image through the HTTP API, as Ironic calls it, onto a real loop device from a
 * real HTTP server: the device ends up holding the image's bytes (raw streamed, qcow2 as
 * `qemu-img convert` makes it), with the GPT moved to the disk's end, partition UUIDs
 * as blkid sees them, and live progress while it runs.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import {
  buildGptImage,
  buildMbrImage,
  buildRandomGptImage,
  buildSparseGptImage,
  qcow2ToRaw,
  readRange,
  sha256Of,
  sha256OfRange,
  toQcow2,
  CONVERTED_NOT_STREAMED,
  type TestImage,
} from './test-images.js';

const DISK_MIB = 4608; // sparse; above IPA's 4 GiB minimum so no hints are needed

const it = imageWriterTest.extend<{ gpt: TestImage; mbr: TestImage; random: TestImage }>({
  gpt: [async ({ scratch }, use) => use(buildGptImage(scratch.dir)), { scope: 'file' }],
  random: [async ({ scratch }, use) => use(buildRandomGptImage(scratch.dir)), { scope: 'file' }],
  mbr: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir)), { scope: 'file' }],
});

describe.skipIf(!canUseLoopDevices())('write_image writes whole-disk images', () => {
  it('streams a raw MBR image so the device holds exactly the image bytes, with IPA result and root uuid', async ({
    disks,
    server,
    mbr,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('mbr.raw', mbr.path);

    const outcome = await runWriteImage(harness.client, imageInfo(url, mbr.sha256));

    expect(outcome.status).toBe('SUCCEEDED');
    const result = outcome.body.command_result.deploy_result;
    expect(result.message).toBe(`image (mbr.raw) written to device ${device.path} root_uuid=0x1a2b3c4d`);
    expect(result.write_method).toBe('stream');
    expect(result.checksum).toEqual({ algorithm: 'sha256', value: mbr.sha256 });
    expect(outcome.body.command_result.deploy_step.step).toBe('write_image');
    expect(readRange(device.path, 0, mbr.sizeBytes).equals(readRange(mbr.path, 0, mbr.sizeBytes))).toBe(true);
  });

  it('streams a raw GPT image: partition data byte-identical, backup GPT moved to the disk end, UUIDs as blkid reports', async ({
    disks,
    server,
    gpt,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('gpt.raw', gpt.path);

    const outcome = await runWriteImage(harness.client, imageInfo(url, gpt.sha256, { deploy_boot_mode: 'uefi' }));

    expect(outcome.status).toBe('SUCCEEDED');
    expect(readRange(device.path, gpt.dataStart, gpt.dataEnd).equals(readRange(gpt.path, gpt.dataStart, gpt.dataEnd))).toBe(true);
    // sgdisk -v is clean only when the backup header sits at the real end of the disk.
    const verify = execFileSync('sgdisk', ['-v', device.path], { encoding: 'utf8' });
    expect(verify).toMatch(/No problems found/);

    const espPartUuid = execFileSync('blkid', ['-p', '-s', 'PART_ENTRY_UUID', '-o', 'value', `${device.path}p1`], {
      encoding: 'utf8',
    }).trim();
    const uuids = await harness.client.post('standby.get_partition_uuids', {}, true);
    expect(uuids.status).toBe(200);
    expect(uuids.body.command_result['efi system partition uuid']).toBe(espPartUuid);
    expect(uuids.body.command_result['root uuid']).toBe('0x00000000');
    expect(outcome.body.command_result.deploy_result.message).toBe(
      `image (gpt.raw) written to device ${device.path} root_uuid=0x00000000 efi_system_partition_uuid=${espPartUuid}`,
    );
  });

  it('leaves a GPT image as large as the disk byte-identical (its backup header is already at the end)', async ({
    disks,
    server,
    gpt,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: gpt.sizeBytes / (1024 * 1024) });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('exact.raw', gpt.path);

    const outcome = await runWriteImage(harness.client, imageInfo(url, gpt.sha256), {
      node: { instance_info: { root_device: { name: device.path } } },
    });

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(readRange(device.path, 0, gpt.sizeBytes).equals(readRange(gpt.path, 0, gpt.sizeBytes))).toBe(true);
  });

  it('decodes a qcow2 image onto the disk as it streams: the device holds what qemu-img convert makes of it', async ({
    disks,
    server,
    gpt,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const qcow2 = toQcow2(gpt.path);
    const reference = qcow2ToRaw(qcow2);
    const url = server.serveFile('gpt.qcow2', qcow2);

    const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.write_method).toBe('qcow2-stream');
    expect(readRange(device.path, gpt.dataStart, gpt.dataEnd).equals(readRange(reference, gpt.dataStart, gpt.dataEnd))).toBe(
      true,
    );
    expect(execFileSync('sgdisk', ['-v', device.path], { encoding: 'utf8' })).toMatch(/No problems found/);
    // Nothing was parked at the disk's end: no qcow2 header anywhere near it.
    const tail = readRange(device.path, device.sizeBytes - 64 * 1024 * 1024, device.sizeBytes);
    expect(tail.includes(Buffer.from('QFI\xfb', 'latin1'))).toBe(false);
  });

  it('converts (qemu-img) a qcow2 that arrives slowly, and one whose download starts over, to the same bytes', async ({
    disks,
    server,
    random,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    // Every cluster is data, up to the file's last byte, which the conversion must wait for.
    const qcow2 = toQcow2(random.path, CONVERTED_NOT_STREAMED);
    const reference = qcow2ToRaw(qcow2);
    const expectConverted = () =>
      expect(
        readRange(device.path, random.dataStart, random.dataEnd).equals(readRange(reference, random.dataStart, random.dataEnd)),
      ).toBe(true);
    // qemu-img converts while the image arrives, waiting for what has not yet.
    const slow = server.serveFile('slow.qcow2', qcow2, { bytesPerSecond: 8 * 1024 * 1024 });
    let outcome = await runWriteImage(harness.client, imageInfo(slow, sha256Of(qcow2), { disk_format: 'qcow2' }));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.write_method).toMatch(/^qcow2-in-place \(not streamed: extended L2/);
    expectConverted();
    execFileSync('wipefs', ['-a', '-q', device.path]);

    // Cut half-way by a server that ignores Range: the download starts over from byte 0, and
    // what qemu-img read of the first attempt must not end up on the disk. (The first of the
    // two cut answers is the format probe, which reads only the header.)
    const size = readRange(qcow2, 0, 64 * 1024 * 1024).length;
    const restarted = server.serveFile('restarted.qcow2', qcow2, {
      truncateAfter: Math.floor(size / 2),
      truncateTimes: 2,
      ignoreRange: true,
    });
    outcome = await runWriteImage(harness.client, imageInfo(restarted, sha256Of(qcow2), { disk_format: 'qcow2' }));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.download.requests).toBe(2);
    expectConverted();
  });

  it('converts a qcow2 of a disk larger than a conversion window: each part lands where it belongs, holes over old data read as zeros', async ({
    disks,
    server,
    scratch,
    startAgent,
  }) => {
    // 1300 MiB: three of the 512 MiB windows the writer converts a parked qcow2 in, data on
    // both sides of each boundary.
    const image = buildSparseGptImage(scratch.dir, 1300, [1, 511, 512, 700, 1023, 1024, 1298]);
    const device = disks.create({ sizeMiB: DISK_MIB });
    // Old data where the image has holes: the conversion must write zeros over it.
    const junk = Buffer.alloc(4 * 1024 * 1024, 0xa5);
    for (const at of [300, 600, 1200])
      execFileSync('dd', ['of=' + device.path, 'bs=1M', `seek=${at}`, 'conv=notrunc', 'status=none'], { input: junk });
    const harness = await startAgent([device.path]);
    const qcow2 = toQcow2(image.path, CONVERTED_NOT_STREAMED);
    const reference = qcow2ToRaw(qcow2);
    const url = server.serveFile('sparse.qcow2', qcow2, { bytesPerSecond: 4 * 1024 * 1024 });

    const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.write_method).toMatch(/^qcow2-in-place \(not streamed: extended L2/);
    expect(sha256OfRange(device.path, image.dataStart, image.dataEnd)).toBe(
      sha256OfRange(reference, image.dataStart, image.dataEnd),
    );
    const tail = readRange(device.path, device.sizeBytes - 64 * 1024 * 1024, device.sizeBytes);
    expect(tail.includes(Buffer.from('QFI\xfb', 'latin1'))).toBe(false);
  });

  it('spools a qcow2 it converts to a scratch file when the disk cannot hold it beside its expansion, with the same result', async ({
    disks,
    server,
    gpt,
    startAgent,
  }) => {
    // 24 MiB virtual + ~6 MiB qcow2 + margin do not fit in 28 MiB: no room to park it on the disk.
    const device = disks.create({ sizeMiB: 28 });
    const harness = await startAgent([device.path]);
    const qcow2 = toQcow2(gpt.path, CONVERTED_NOT_STREAMED);
    const reference = qcow2ToRaw(qcow2);
    const url = server.serveFile('tight.qcow2', qcow2);

    const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }), {
      node: { instance_info: { root_device: { name: device.path } } },
    });

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.write_method).toMatch(/^qcow2-scratch-file \(not streamed: extended L2/);
    expect(readRange(device.path, gpt.dataStart, gpt.dataEnd).equals(readRange(reference, gpt.dataStart, gpt.dataEnd))).toBe(
      true,
    );
  });

  it('reports live progress (bytes downloaded and written, rate, ETA) while the image streams', async ({
    disks,
    server,
    mbr,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('slow.raw', mbr.path, { bytesPerSecond: 12 * 1024 * 1024 });

    const outcome = await runWriteImage(harness.client, imageInfo(url, mbr.sha256));

    expect(outcome.status).toBe('SUCCEEDED');
    const downloading = outcome.progress.filter((p) => p.stage === 'downloading' && p.bytes_downloaded > 0);
    expect(downloading.length).toBeGreaterThan(1);
    const sample = downloading.at(-1);
    expect(sample).toMatchObject({ image_id: 'slow.raw', device: device.path, total_bytes: mbr.sizeBytes });
    expect(sample.bytes_written).toBeLessThanOrEqual(sample.bytes_downloaded);
    expect(sample.rate_bytes_per_second).toBeGreaterThan(0);
    expect(typeof sample.eta_seconds).toBe('number');
    expect(outcome.body.command_progress.stage).toBe('done');
  });

  it('fails with InvalidImage when disk_format says qcow2 but the content is raw', async ({ disks, server, mbr, startAgent }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path]);
    const url = server.serveFile('not-really.qcow2', mbr.path);

    const outcome = await runWriteImage(harness.client, imageInfo(url, mbr.sha256, { disk_format: 'qcow2' }));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('InvalidImage');
    expect(outcome.body.command_error.details).toBe('Security: Expected format was qcow2, but image was actually raw');
  });
});
