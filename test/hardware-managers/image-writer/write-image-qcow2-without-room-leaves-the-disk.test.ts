/**
 * A whole-disk qcow2 that the streaming decoder does not take (extended L2 entries) goes the
 * qemu-img way, which needs the qcow2 parked beside its expansion on the disk or in the temp
 * directory. When neither has the room (a disk barely larger than the image, a 1 MiB temp
 * directory), the write fails before the disk's partition table is wiped: the disk keeps
 * what it held, byte for byte.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { sha256OfRange } from './test-images.js';

const MIB = 1024 * 1024;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** The disk's first 64 MiB (its table and first partition) and its last MiB. */
const fingerprint = (path: string, sizeBytes: number) =>
  sha256OfRange(path, 0, 64 * MIB) + sha256OfRange(path, sizeBytes - MIB, sizeBytes);

describe.skipIf(!canUseLoopDevices())('a qcow2 with no room to convert it', () => {
  imageWriterTest('fails before the disk is touched', async ({ disks, server, scratch, startAgent }) => {
    // A 4100 MiB disk image (IPA's install disk is at least 4 GiB), sparse, with an MBR table.
    const raw = join(scratch.dir, 'disk-4100m.raw');
    execFileSync('truncate', ['-s', `${4100}M`, raw]);
    execFileSync('sfdisk', ['-q', raw], { input: 'label: dos\nlabel-id: 0x2c3d4e5f\n,,83\n' });
    const qcow2 = join(scratch.dir, 'extended-l2-disk.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'extended_l2=on', raw, qcow2]);
    // The disk an earlier deployment left: that image, in 4101 MiB (no room to park the qcow2).
    const device = disks.create({ sizeMiB: 4101 });
    execFileSync('dd', [`if=${raw}`, `of=${device.path}`, 'bs=1M', 'conv=fsync,notrunc,sparse', 'status=none']);
    const before = fingerprint(device.path, device.sizeBytes);
    const tmp = join(scratch.dir, 'small-tmp-whole-disk');
    mkdirSync(tmp, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'ramdisk-agent-test', tmp]);
    const savedTmpdir = process.env.TMPDIR;
    try {
      process.env.TMPDIR = tmp; // the agent runs in this process: its scratch files would go here
      const harness = await startAgent([device.path]);
      const url = server.serveFile('extended-l2-disk.qcow2', qcow2);

      const outcome = await runWriteImage(harness.client, imageInfo(url, sha256(qcow2), { disk_format: 'qcow2' }));

      expect(outcome.status).toBe('FAILED');
      expect(outcome.body.command_error.type).toBe('ImageDownloadOutofSpaceError');
      expect(outcome.body.command_error.details).toContain(`fits neither beside its ${4100 * 1024 * 1024}-byte expansion`);
      expect(fingerprint(device.path, device.sizeBytes), 'the disk as it was').toBe(before);
    } finally {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
      execFileSync('umount', [tmp]);
    }
  });
});
