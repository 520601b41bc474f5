/**
 * A virtual media device mounted read-only in a fresh temporary folder for as long as a
 * function reads it, then unmounted whatever happened (IPA's `utils.mounted`).
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, type Exec } from '../../../hardware/exec.js';
import type { Report } from './find-media.js';

const MOUNT_TIMEOUT_MS = 60_000;
/** IPA's `umount_attempts=3`, a second apart: a reader that just closed can hold it briefly. */
const UNMOUNT_ATTEMPTS = 3;
const UNMOUNT_RETRY_MS = 1000;

/**
 * Mounted with `-o ro`, where IPA mounts read-write: the agent only reads the media, and a
 * read-write vfat mount would write its dirty flag to the BMC's image.
 */
export async function withMountedMedia<T>(
  device: string,
  report: Report,
  read: (mountPoint: string) => T | Promise<T>,
  exec: Exec = run,
): Promise<T> {
  const mountPoint = mkdtempSync(join(tmpdir(), 'ramdisk-agent-vmedia-'));
  let mounted = false;
  try {
    await exec('mount', ['-o', 'ro', device, mountPoint], { timeoutMs: MOUNT_TIMEOUT_MS });
    mounted = true;
    return await read(mountPoint);
  } finally {
    // A folder still mounted is left in place: removing it could only fail, or worse.
    if (!mounted || (await unmount(mountPoint, report, exec))) rmdirSync(mountPoint);
  }
}

async function unmount(mountPoint: string, report: Report, exec: Exec): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await exec('umount', [mountPoint], { timeoutMs: MOUNT_TIMEOUT_MS });
      return true;
    } catch (error) {
      if (attempt >= UNMOUNT_ATTEMPTS) {
        report(`Unable to unmount temporary location ${mountPoint}: ${(error as Error).message}`);
        return false;
      }
      await sleep(UNMOUNT_RETRY_MS);
    }
  }
}

/** Where the device is mounted already (IPA's `_find_mount_point`), or undefined. */
export async function mountPointOf(device: string, exec: Exec = run): Promise<string | undefined> {
  try {
    const { stdout } = await exec('findmnt', ['-n', '-oTARGET', device], { timeoutMs: MOUNT_TIMEOUT_MS });
    return stdout.split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined; // findmnt exits 1 when the device is not mounted
  }
}
