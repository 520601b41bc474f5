/**
 * A root device that shows up late (a slow RAID controller, a SAN LUN) is waited for, as IPA's
 * wait_for_disks does: `diskWaitAttempts` looks, `diskWaitDelay` seconds apart. Here an
 * allow-listed loop device first reads 1 GiB, too small for the hints, and grows to 7 GiB
 * (its backing file extended, `losetup -c`) while write_image looks for it.
 */
import { execFileSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, readRange, type TestImage } from './test-images.js';

const MBR_SIGNATURE = Buffer.from([0x55, 0xaa]);
const GIB = 1024 * 1024 * 1024;

const it = imageWriterTest.extend<{ image: TestImage; url: string }>({
  image: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir, 8, false)), { scope: 'file' }],
  url: [async ({ server, image }, use) => use(server.serveFile('late.raw', image.path)), { scope: 'file' }],
});

describe.skipIf(!canUseLoopDevices())('write_image and a root device that appears late', () => {
  it('waits for the hinted disk and writes it once it is there', async ({ url, image, disks, startAgent }) => {
    const disk = disks.create({ sizeMiB: 1024 });
    writeFileSync(disk.path, Buffer.alloc(4096));
    const harness = await startAgent([disk.path], { diskWaitAttempts: 20, diskWaitDelay: 0.25 });
    // The managers start with the first command: after this, write_image looks for its disk
    // within milliseconds, well before the disk grows.
    expect((await harness.client.post('clean.get_clean_steps', { node: {}, ports: [] })).status).toBe(200);
    const started = Date.now();
    const grow = setTimeout(() => {
      // 7 GiB: a size no other test's loop device has (write-image-picks-the-root-device makes a
      // 5 GiB one), since the agent sees every loop device of the host and would pick theirs.
      truncateSync(disk.file, 7 * GIB);
      execFileSync('losetup', ['-c', disk.path]);
    }, 1500);
    try {
      const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
        node: { instance_info: { root_device: { size: 7 } } },
      });
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      expect(outcome.body.command_result.deploy_result.device).toBe(disk.path);
      expect(readRange(disk.path, 510, 512).equals(MBR_SIGNATURE)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    } finally {
      clearTimeout(grow);
    }
  });

  it('fails with DeviceNotFound after the attempts, and at once for hints that cannot match', async ({
    url,
    image,
    disks,
    startAgent,
  }) => {
    const disk = disks.create({ sizeMiB: 1024 });
    // Two looks 1.5 s apart: far enough from 'at once' that a loaded machine cannot blur the two.
    const harness = await startAgent([disk.path], { diskWaitAttempts: 2, diskWaitDelay: 1.5 });
    let started = Date.now();
    const missing = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: 7 } } },
    });
    expect(missing.status).toBe('FAILED');
    expect(missing.body.command_error.type).toBe('DeviceNotFound');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);

    started = Date.now();
    const invalid = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: 'a lot' } } },
    });
    expect(invalid.status).toBe('FAILED');
    expect(invalid.body.command_error.details).toMatch(/failed to validate/);
    expect(Date.now() - started).toBeLessThan(1200);
    expect(readRange(disk.path, 510, 512).equals(MBR_SIGNATURE)).toBe(false);
  });
});
