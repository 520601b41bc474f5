/**
 * A partition's files, opened the way its filesystem allows best:
 *
 * - FAT (ESPs, vfat data partitions) through mtools, without mounting: the ramdisk's kernel
 *   needs no vfat module, and FAT has no links to follow. FAT keeps no modes or owners, so
 *   those are refused up front instead of failing half-way (IPA's chmod/chown would fail
 *   on the mounted vfat with EPERM after writing the file).
 * - anything else mounted in a fresh temporary folder, always unmounted again; paths are
 *   resolved inside it as the installed system would resolve them (chroot-path.ts).
 */
import { constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { CommandExecutionError, ExecError, type StepContext } from '../../src/hardware/index.js';
import { resolveInRoot } from './chroot-path.js';

type TreeContext = Pick<StepContext, 'exec' | 'guard' | 'log'>;

interface FileAttributes {
  mode?: number | undefined;
  dirmode?: number | undefined;
  owner?: number | undefined;
  group?: number | undefined;
}

export interface FileTree {
  readonly filesystem: string;
  hasDirectory(relative: string): Promise<boolean>;
  /** Creates missing directories (the leaf one with `dirmode`), writes, then applies mode/owner/group. */
  write(relative: string, content: Buffer, attributes: FileAttributes): Promise<void>;
  /** Removes the file; absent is fine (IPA's unlink_without_raise). */
  remove(relative: string): Promise<void>;
}

const FAT_TYPES = new Set(['vfat', 'msdos', 'fat']);
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

async function filesystemOf(ctx: TreeContext, device: string): Promise<string> {
  const { stdout } = await ctx.exec('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], { okExitCodes: [0, 2] });
  return stdout.trim();
}

export async function withFileTree<T>(ctx: TreeContext, device: string, use: (tree: FileTree) => Promise<T>): Promise<T> {
  await ctx.guard.assertWritable(device);
  const filesystem = await filesystemOf(ctx, device);
  if (FAT_TYPES.has(filesystem)) return use(fatTree(ctx, device, filesystem));
  const mountPoint = await mkdtemp(join(tmpdir(), 'inject-files-'));
  try {
    await ctx.exec('mount', [device, mountPoint], { timeoutMs: 60_000 });
    try {
      return await use(mountedTree(mountPoint, filesystem || 'unknown'));
    } finally {
      await ctx.exec('umount', [mountPoint], { timeoutMs: 120_000 });
    }
  } finally {
    await rmdir(mountPoint).catch(() => undefined);
  }
}

function mountedTree(root: string, filesystem: string): FileTree {
  return {
    filesystem,
    hasDirectory: async (relative) =>
      stat(await resolveInRoot(root, relative)).then(
        (s) => s.isDirectory(),
        () => false,
      ),
    async write(relative, content, attributes) {
      const target = await resolveInRoot(root, relative);
      const dir = dirname(target);
      const existed = await stat(dir).then(
        () => true,
        () => false,
      );
      if (!existed) {
        await mkdir(dir, { recursive: true });
        // chmod, not mkdir's mode: the umask must not decide.
        if (attributes.dirmode) await chmod(dir, attributes.dirmode);
      }
      // O_NOFOLLOW: the path was resolved inside the partition; a link appearing since is refused.
      const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW);
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      if (attributes.mode) await chmod(target, attributes.mode);
      if (attributes.owner !== undefined || attributes.group !== undefined) {
        await chown(target, attributes.owner ?? -1, attributes.group ?? -1);
      }
    },
    async remove(relative) {
      await unlink(await resolveInRoot(root, relative, false)).catch(() => undefined);
    },
  };
}

function fatTree(ctx: TreeContext, device: string, filesystem: string): FileTree {
  const fatPath = (relative: string) => `::/${posix.normalize(relative)}`;
  const isDirectory = async (relative: string) => {
    try {
      // `mdir -a` of a directory lists its entries; of a file it prints the file alone.
      const { stdout } = await ctx.exec('mdir', ['-a', '-b', '-i', device, fatPath(relative)], { env: MTOOLS_ENV, quiet: true });
      return !stdout.split('\n').some((line) => line.trim().toLowerCase() === fatPath(relative).toLowerCase());
    } catch (error) {
      if (error instanceof ExecError && error.reason === 'exit') return false;
      throw error;
    }
  };
  return {
    filesystem,
    hasDirectory: isDirectory,
    async write(relative, content, attributes) {
      const refused = (['mode', 'owner', 'group', 'dirmode'] as const).filter((k) => attributes[k] !== undefined);
      if (refused.length > 0) {
        throw new CommandExecutionError(`${filesystem} keeps no ${refused.join(', ')}: ${relative} was not written`);
      }
      const parts = posix.normalize(relative).split('/');
      for (let depth = 1; depth < parts.length; depth++) {
        const dir = parts.slice(0, depth).join('/');
        if (!(await isDirectory(dir))) await ctx.exec('mmd', ['-i', device, fatPath(dir)], { env: MTOOLS_ENV });
      }
      const staging = await mkdtemp(join(tmpdir(), 'inject-files-'));
      try {
        const file = join(staging, 'content');
        await writeFile(file, content);
        // -o: overwrite an existing file without asking.
        await ctx.exec('mcopy', ['-o', '-i', device, file, fatPath(relative)], { env: MTOOLS_ENV });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    },
    async remove(relative) {
      await ctx.exec('mdel', ['-i', device, fatPath(relative)], { env: MTOOLS_ENV, okExitCodes: [0, 1] });
    },
  };
}
