/**
 * The demo's pretend disks: sparse files, attached as loop devices when we are root and the
 * kernel has loop support, filled with random "old data" so that erasing is visible. They
 * are the only devices the demo's agent may write.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../hardware/exec.js';
import { loopAttachCommand } from '../../../shared/loop-attach.js';

export interface ScratchDisk {
  /** What the agent writes: `/dev/loopN`, or the file itself. */
  path: string;
  file: string;
  sizeBytes: number;
  isLoop: boolean;
}

async function loopDevicesUsable(): Promise<boolean> {
  if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) return false;
  try {
    await run('losetup', ['--version']);
    return true;
  } catch {
    return false;
  }
}

export async function createScratchDisks(
  dir: string,
  count: number,
  sizeMiB: number,
  onCreated: (disk: ScratchDisk) => void,
): Promise<ScratchDisk[]> {
  const useLoop = await loopDevicesUsable();
  const disks: ScratchDisk[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, `disk-${String.fromCharCode(97 + i)}.img`);
    const sizeBytes = sizeMiB * 1024 * 1024;
    const fd = openSync(file, 'w');
    try {
      ftruncateSync(fd, sizeBytes);
      // "Old data": random bytes at the start, in the middle and at the end.
      const chunk = randomBytes(1024 * 1024);
      for (const offset of [0, Math.floor(sizeBytes / 2), sizeBytes - chunk.length])
        writeSync(fd, chunk, 0, chunk.length, offset);
    } finally {
      closeSync(fd);
    }
    let path = file;
    if (useLoop) {
      try {
        path = (await run(...loopAttachCommand(file))).stdout.trim();
      } catch {
        path = file;
      }
      // A reused loop device can still carry a previous user's partition entries (they
      // outlive a detach without partition scanning): the demo's erase would take them for
      // this disk's partitions, sized for another file.
      if (path !== file) await dropPartitionEntries(path);
    }
    const disk = { path, file, sizeBytes, isLoop: path !== file };
    disks.push(disk);
    onCreated(disk);
  }
  return disks;
}

export async function detachScratchDisk(disk: ScratchDisk): Promise<void> {
  if (!disk.isLoop) return;
  // The demo's image writes add partitions to the kernel; the next user of the device must not inherit them.
  await dropPartitionEntries(disk.path);
  try {
    await run('losetup', ['--detach', disk.path]);
  } catch {
    // already detached
  }
}

/** Removes the kernel's partition entries of a loop device: none there is not an error. */
async function dropPartitionEntries(device: string): Promise<void> {
  await run('partx', ['--delete', device]).catch(() => undefined);
}
