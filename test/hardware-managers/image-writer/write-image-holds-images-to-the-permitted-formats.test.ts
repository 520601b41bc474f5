/**
 * write_image holds an image to IPA's `permitted_image_formats` and checks it against
 * `disk_format`, with IPA's messages, before anything is written; an image declared raw is
 * trusted without a look, as in IPA. With `disable_deep_image_inspection` neither check is
 * made and the image is written as its content says. Settings from the agent's configuration
 * here (the conductor's lookup sets the same ones: test/agent/lookup-config-*).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, qcow2ToRaw, readRange, sha256Of, toQcow2, type TestImage } from './test-images.js';

const DISK_MIB = 4608; // sparse; above IPA's 4 GiB minimum so no hints are needed

const it = imageWriterTest.extend<{ mbr: TestImage; qcow2: string }>({
  mbr: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir)), { scope: 'file' }],
  qcow2: [async ({ mbr }, use) => use(toQcow2(mbr.path)), { scope: 'file' }],
});

/** Nothing was written: the sparse disk still reads as zeros where an image would start. */
function untouched(device: string): boolean {
  return readRange(device, 0, 1024 * 1024).every((byte) => byte === 0);
}

describe.skipIf(!canUseLoopDevices())('write_image and the permitted image formats', () => {
  it("refuses a qcow2 when only raw is permitted, with IPA's message, and writes nothing", async ({
    disks,
    server,
    qcow2,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { permittedImageFormats: ['raw'] });
    const url = server.serveFile('only-raw.qcow2', qcow2);

    const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('InvalidImage');
    expect(outcome.body.command_error.details).toBe('Security: Detected image format was qcow2, but only raw are allowed');
    expect(untouched(device.path)).toBe(true);
  });

  it('holds an image without disk_format to the list too, and trusts one declared raw without a look', async ({
    disks,
    server,
    mbr,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { permittedImageFormats: ['qcow2', 'iso'] });
    const url = server.serveFile('raw-undeclared.img', mbr.path);

    const undeclared = await runWriteImage(harness.client, imageInfo(url, mbr.sha256, { disk_format: undefined }));
    expect(undeclared.status).toBe('FAILED');
    expect(undeclared.body.command_error.details).toBe(
      'Security: Detected image format was raw, but only qcow2, iso are allowed',
    );
    expect(untouched(device.path)).toBe(true);

    // IPA never inspects an image Ironic says is raw: it is written as it is, whatever the list.
    const declared = await runWriteImage(harness.client, imageInfo(url, mbr.sha256));
    expect(declared.status, JSON.stringify(declared.body.command_error)).toBe('SUCCEEDED');
    expect(readRange(device.path, 0, mbr.sizeBytes).equals(readRange(mbr.path, 0, mbr.sizeBytes))).toBe(true);
  });

  it('names a permitted format it has no writer for instead of writing it wrong', async ({ disks, server, mbr, startAgent }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { permittedImageFormats: ['raw', 'vmdk'] });
    const vmdk = join(dirname(mbr.path), 'mbr.vmdk');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', mbr.path, vmdk]);
    const url = server.serveFile('mbr.vmdk', vmdk);

    const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(vmdk), { disk_format: 'vmdk' }));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('InvalidImage');
    expect(outcome.body.command_error.details).toBe(
      'Image mbr.vmdk is in vmdk format, which this agent cannot write (only raw and qcow2)',
    );
    expect(untouched(device.path)).toBe(true);
  });

  it('with deep inspection disabled, writes what the content is: a raw image declared qcow2, a qcow2 not permitted', async ({
    disks,
    server,
    mbr,
    qcow2,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const harness = await startAgent([device.path], { disableDeepImageInspection: true, permittedImageFormats: ['raw'] });

    const mislabelled = server.serveFile('mislabelled.qcow2', mbr.path);
    const raw = await runWriteImage(harness.client, imageInfo(mislabelled, mbr.sha256, { disk_format: 'qcow2' }));
    expect(raw.status, JSON.stringify(raw.body.command_error)).toBe('SUCCEEDED');
    expect(raw.body.command_result.deploy_result.write_method).toBe('stream');
    expect(readRange(device.path, 0, mbr.sizeBytes).equals(readRange(mbr.path, 0, mbr.sizeBytes))).toBe(true);

    const url = server.serveFile('not-permitted.qcow2', qcow2);
    const converted = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }));
    expect(converted.status, JSON.stringify(converted.body.command_error)).toBe('SUCCEEDED');
    expect(converted.body.command_result.deploy_result.write_method).toBe('qcow2-stream');
    const reference = qcow2ToRaw(qcow2);
    expect(readRange(device.path, mbr.dataStart, mbr.dataEnd).equals(readRange(reference, mbr.dataStart, mbr.dataEnd))).toBe(
      true,
    );
  });
});
