/** IPA's erase_pstore: empty the pstore filesystem (kernel crash records kept in firmware). */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtectedDeviceError, type StepContext } from '../../src/hardware/index.js';

async function findPstoreMount(procMounts = '/proc/mounts'): Promise<string | undefined> {
  const mounts = await readFile(procMounts, 'utf8').catch(() => '');
  for (const line of mounts.split('\n')) {
    const [, target, type] = line.split(/\s+/);
    if (type === 'pstore' && target) return target;
  }
  return undefined;
}

export async function erasePstore(ctx: StepContext, procMounts?: string): Promise<{ pstore: string | null; removed: string[] }> {
  const mount = await findPstoreMount(procMounts);
  if (!mount) {
    ctx.log.warn('no pstore filesystem is mounted; nothing to erase');
    return { pstore: null, removed: [] };
  }
  // The same rule as for disks: the crash records of a machine not booted from the ramdisk
  // (a developer's host, CI) are not ours to delete, unless that directory is allow-listed.
  if (!(await ctx.guard.inRamdisk()) && !(await ctx.guard.isAllowListed(mount))) {
    throw new ProtectedDeviceError(
      mount,
      'the pstore of a machine not booted from a ramdisk holds its own crash records; only an allow-listed pstore may be erased there',
    );
  }
  const entries = await readdir(mount);
  for (const entry of entries) await rm(join(mount, entry), { recursive: true, force: true });
  ctx.log.info({ mount, removed: entries.length }, 'pstore erased');
  return { pstore: mount, removed: entries };
}
