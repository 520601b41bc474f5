/**
 * An image that cannot fit the install disk fails the step before anything is written: the
 * disk's partition table (what it booted from before) is still there. Known from the probe:
 * a qcow2's virtual size, or the size the server gives for an image inspected as raw.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest as it } from './image-writer-lab.js';
import { readRange } from './test-images.js';

const DISK_MIB = 64;
/** Not the image's: nothing is downloaded far enough to be checked. */
const SOME_SHA256 = 'ab'.repeat(32);

describe.skipIf(!canUseLoopDevices())('write_image with an image larger than the disk', () => {
  it.for([
    {
      what: 'a qcow2 whose virtual size is larger',
      make: (file: string) => execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1G']),
      disk_format: 'qcow2',
      message: `expands to ${1024 ** 3} bytes, more than the ${DISK_MIB * 1024 * 1024}-byte device`,
    },
    {
      what: 'an image inspected as raw whose size the server gives as larger',
      make: (file: string) => {
        const fd = openSync(file, 'w');
        ftruncateSync(fd, 96 * 1024 * 1024);
        closeSync(fd);
      },
      disk_format: undefined,
      message: `is ${96 * 1024 * 1024} bytes, more than the ${DISK_MIB * 1024 * 1024}-byte device`,
    },
  ])(
    'fails with InvalidImage for $what, and the disk keeps its partition table',
    async ({ make, disk_format, message }, { scratch, server, disks, startAgent }) => {
      const file = join(scratch.dir, `too-large-${disk_format ?? 'raw'}.img`);
      make(file);
      const url = server.serveFile(`too-large-${disk_format ?? 'raw'}.img`, file);
      const disk = disks.create({ sizeMiB: DISK_MIB });
      execFileSync('sgdisk', ['--new=1:0:+8M', disk.path], { stdio: 'ignore' });
      const table = readRange(disk.path, 0, 1024 * 1024);

      const harness = await startAgent([disk.path]);
      const outcome = await runWriteImage(harness.client, imageInfo(url, SOME_SHA256, { disk_format }), {
        node: { instance_info: { root_device: { name: disk.path } } },
      });

      expect(outcome.status).toBe('FAILED');
      expect(outcome.body.command_error.type).toBe('InvalidImage');
      expect(outcome.body.command_error.details).toContain(message);
      expect(readRange(disk.path, 0, 1024 * 1024).equals(table)).toBe(true);
    },
  );
});
