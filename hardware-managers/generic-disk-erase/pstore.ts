/** IPA's erase_pstore: empty the pstore filesystem (kernel crash records kept in firmware). */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepContext } from '../../src/hardware/index.js';

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
  const entries = await readdir(mount);
  for (const entry of entries) await rm(join(mount, entry), { recursive: true, force: true });
  ctx.log.info({ mount, removed: entries.length }, 'pstore erased');
  return { pstore: mount, removed: entries };
}
