/**
 * The file systems a partition image's layout gets (IPA's `utils.mkfs` calls in `work_on_disk`):
 * vfat labelled `efi-part` on the ESP, swap labelled `swap1`, `ephemeral_format` labelled
 * `ephemeral0`; and IPA's `block_uuid`, what `get_partition_uuids` reports for a partition.
 */
import { defineIpaError, ExecError, hasCommand, ImageWriteError, type Exec } from '../../src/hardware/index.js';

/** IPA's `FileSystemNotSupported` (errors.py), raised for a format no mkfs here can make. */
class FileSystemNotSupported extends defineIpaError({
  type: 'FileSystemNotSupported',
  summary: 'Failed to create a file system',
  code: 500,
}) {
  constructor(fs: string, why: string) {
    super(`Failed to create a file system. File system ${fs} is not supported: ${why}`);
  }
}

interface MkfsCommand {
  file: string;
  args: (label: string, path: string) => string[];
}

/**
 * IPA runs `mkfs -t <fs>` (util-linux's front end, which runs `mkfs.<fs>`); the ramdisk ships
 * the programs themselves, not the front end: the ext family through `mke2fs -t` (one binary,
 * where mkfs.ext2/3 are only its other names), FAT through mkfs.vfat, anything else as
 * `mkfs.<fs>` when the ramdisk has it (it has no mkfs.xfs: image/tools.list).
 */
function mkfsCommand(fs: string): MkfsCommand {
  if (fs === 'swap') return { file: 'mkswap', args: (label, path) => ['-L', label, path] };
  // -F as IPA passes it for ext3/ext4 (no prompt); for ext2 too, which IPA leaves out and
  // which only matters on a plain file.
  if (/^ext[234]$/.test(fs)) return { file: 'mke2fs', args: (label, path) => ['-t', fs, '-F', '-q', '-L', label, path] };
  if (fs === 'vfat' || fs === 'fat' || fs === 'msdos') return { file: 'mkfs.vfat', args: (label, path) => ['-n', label, path] };
  return { file: `mkfs.${fs}`, args: (label, path) => ['-L', label, path] };
}

/**
 * Refuses, before the disk is touched, a file system this ramdisk cannot make. IPA finds out
 * only when mkfs fails, after the disk was partitioned and the image written.
 */
export async function assertCanMake(fs: string): Promise<void> {
  const { file } = mkfsCommand(fs);
  if (!(await hasCommand(file))) throw new FileSystemNotSupported(fs, `the ramdisk has no ${file}`);
}

/**
 * A tool that fails while the disk is laid out (parted, mkfs) is IPA's ImageWriteError:
 * work_on_disk's wrapping of ProcessExecutionError.
 */
export async function runLayoutTool(exec: Exec, file: string, args: string[], device: string): Promise<void> {
  try {
    await exec(file, args);
  } catch (error) {
    if (error instanceof ExecError && error.reason === 'exit') {
      throw new ImageWriteError(device, error.exitCode ?? 'unknown', error.stdout, error.stderr);
    }
    throw error;
  }
}

/** Make `fs` labelled `label` on `path`. */
export async function makeFilesystem(exec: Exec, fs: string, path: string, label: string): Promise<void> {
  const { file, args } = mkfsCommand(fs);
  await runLayoutTool(exec, file, args(label, path), path);
}

/**
 * IPA's `block_uuid`: the file system's UUID, else the partition's (PARTUUID). Read with a
 * low-level probe of the partition, so no udev database is needed (the ramdisk's may lag).
 */
export async function blockUuid(exec: Exec, path: string): Promise<string> {
  const { stdout } = await exec('blkid', ['-p', '-o', 'export', path], { okExitCodes: [0, 2] });
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values.get('UUID') ?? values.get('PART_ENTRY_UUID') ?? '';
}
