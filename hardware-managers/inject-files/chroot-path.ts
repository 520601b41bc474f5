/**
 * Where a path of the deployed image really is, with the partition's mount point as `/`:
 * symbolic links are followed as the installed system would follow them (an absolute link
 * starts again at the partition's root, `..` stops there), so nothing written for the image
 * can land in the ramdisk's own files. IPA joins the paths and lets the ramdisk's kernel
 * follow the links; this is the one place we differ.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_LINKS = 40;

/**
 * `relative` under `root`, links resolved. With `followLast: false` the last component is
 * kept as is (to remove a link rather than what it points to).
 */
export async function resolveInRoot(root: string, relative: string, followLast = true): Promise<string> {
  const pending = relative.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    const isLast = pending.length === 0;
    const stats = await lstat(candidate).catch(() => undefined);
    if (!stats?.isSymbolicLink() || (isLast && !followLast)) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links in ${relative}`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
  }
  return join(root, ...resolved);
}
