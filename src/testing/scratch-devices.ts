/**
 * Scratch block devices for integration tests: sparse files, attached as loop devices when
 * the test runs as root with loop support, and always cleaned up (detached, deleted), even
 * when a test fails. These are the only devices a test may write to.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, writeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopAttachCommand } from '../shared/loop-attach.js';

export interface ScratchDevice {
  /** The loop device (`/dev/loopN`), or the file itself when loop devices are unavailable. */
  path: string;
  file: string;
  sizeBytes: number;
  isLoop: boolean;
}

export function canUseLoopDevices(): boolean {
  if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) return false;
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface ScratchOptions {
  sizeMiB: number;
  /** Fill with random data up to this many MiB from the start (and the last MiB). */
  randomMiB?: number;
  readOnly?: boolean;
  /** Force a plain file even when loop devices are available. */
  plainFile?: boolean;
  /** The loop device's logical sector size in bytes (512 unless given; 4096 for 4Kn disks). */
  logicalSectorSize?: number;
}

function attachLoopDevice(file: string, options: ScratchOptions): string {
  const [command, args] = loopAttachCommand(file, [
    ...(options.readOnly ? ['--read-only'] : []),
    ...(options.logicalSectorSize ? ['--sector-size', String(options.logicalSectorSize)] : []),
  ]);
  return execFileSync(command, args, { encoding: 'utf8' }).trim();
}

/** Owns every scratch device a test makes; call `cleanup()` in afterEach/afterAll. */
export class ScratchDevices {
  #dir: string | undefined;
  #counter = 0;
  readonly #devices: ScratchDevice[] = [];
  readonly #mounts: string[] = [];

  /** A fresh temporary folder per round of use (cleanup() removes it). */
  get dir(): string {
    this.#dir ??= mkdtempSync(join(tmpdir(), 'ramdisk-agent-test-'));
    return this.#dir;
  }

  create(options: ScratchOptions): ScratchDevice {
    if (options.logicalSectorSize && (options.plainFile || !canUseLoopDevices()))
      throw new Error('a logical sector size needs a loop device (root, loop support, not plainFile)');
    const file = join(this.dir, `disk-${this.#counter++}.img`);
    const sizeBytes = options.sizeMiB * 1024 * 1024;
    const fd = openSync(file, 'w');
    try {
      ftruncateSync(fd, sizeBytes);
      if (options.randomMiB) {
        const chunk = randomBytes(1024 * 1024);
        for (let i = 0; i < options.randomMiB; i++) writeSync(fd, chunk, 0, chunk.length, i * chunk.length);
        writeSync(fd, chunk, 0, chunk.length, sizeBytes - chunk.length);
      }
    } finally {
      closeSync(fd);
    }
    const useLoop = !options.plainFile && canUseLoopDevices();
    const path = useLoop ? attachLoopDevice(file, options) : file;
    // A loop device reused after another test can still carry that test's partition entries
    // (loop devices here have no partition scanning to drop them): clear them first. Likewise
    // a read-only flag set with `blockdev --setro` (a test standing in for a read-only
    // drive): it outlives a detach, and the next attach does not clear it.
    if (useLoop) {
      dropPartitionEntries(path);
      if (!options.readOnly) execFileSync('blockdev', ['--setrw', path]);
    }
    const device = { path, file, sizeBytes, isLoop: useLoop };
    this.#devices.push(device);
    return device;
  }

  /** Mount a filesystem made on `device` (root only); unmounted by cleanup. */
  mount(device: ScratchDevice, fsType = 'ext4'): string {
    // ext4 otherwise initialises inode tables in the background after mounting, writing to
    // the device while a test compares its checksum before and after a step.
    const noLazyInit = fsType.startsWith('ext') ? ['-E', 'lazy_itable_init=0,lazy_journal_init=0'] : [];
    execFileSync(`mkfs.${fsType}`, ['-q', '-F', ...noLazyInit, device.path], { stdio: 'ignore' });
    const target = mkdtempSync(join(this.dir, 'mnt-'));
    execFileSync('mount', [device.path, target]);
    // Flush what mounting wrote (superblock, journal) through to the backing file now, so a
    // test's before/after checksum of a device it must not touch sees a settled file.
    execFileSync('sync');
    this.#mounts.push(target);
    return target;
  }

  cleanup(): void {
    for (const target of this.#mounts.splice(0).reverse()) {
      try {
        execFileSync('umount', [target], { stdio: 'ignore' });
      } catch {
        // already unmounted
      }
    }
    for (const device of this.#devices.splice(0)) {
      if (!device.isLoop) continue;
      dropPartitionEntries(device.path);
      try {
        execFileSync('losetup', ['--detach', device.path], { stdio: 'ignore' });
      } catch {
        // already detached
      }
    }
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

/** Remove the kernel's partition entries of a loop device (they outlive a detach otherwise). */
export function dropPartitionEntries(device: string): void {
  try {
    execFileSync('partx', ['--delete', device], { stdio: 'ignore' });
  } catch {
    // no partitions, or none the kernel knows of
  }
}
