/**
 * UEFI boot entries for a written whole-disk image (reference §14.9, IPA's
 * `efi_utils.manage_uefi`): find the EFI system partition on the disk, look on it for
 * the loaders the image ships (shim's BOOT<ARCH>.CSV first, then shim/grub, then the
 * removable-media path), and register them in NVRAM with `efibootmgr`, replacing
 * entries of the same label.
 */
import { access, mkdtemp, readdir, readFile, rmdir } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandExecutionError, DeviceNotFound } from '../errors.js';
import { hasCommand } from '../exec.js';
import type { Exec } from '../step-context.js';
import { isEfiSystemPartition, readPartitionTable, type PartitionEntry, type PartitionTable } from './disk-layout.js';

export interface EfiLoader {
  /** Path on the ESP as firmware wants it: `\EFI\debian\shimx64.efi`. */
  path: string;
  label: string;
}

export interface UefiBootResult {
  efi_system_partition: string;
  efi_system_partition_uuid: string | null;
  boot_entries: EfiLoader[];
}

const EFI_ARCH = arch() === 'arm64' ? 'aa64' : 'x64';

export async function bootedInUefi(): Promise<boolean> {
  return access('/sys/firmware/efi').then(
    () => true,
    () => false,
  );
}

/** The ESP of `device`: the one whose PARTUUID/FS UUID is `uuid` when given, else the first by partition type. */
export async function findEfiSystemPartition(
  exec: Exec,
  device: string,
  uuid?: string | null,
): Promise<{ table: PartitionTable; partition: PartitionEntry }> {
  const table = await readPartitionTable(exec, device);
  if (!table) throw new DeviceNotFound(`No partition table on ${device}: no EFI system partition to boot from`);
  let partition: PartitionEntry | undefined;
  if (uuid) {
    const wanted = uuid.toLowerCase();
    partition = table.partitions.find((p) => p.partUuid === wanted);
    if (!partition) {
      for (const candidate of table.partitions) {
        const { stdout } = await exec('blkid', ['-p', '-s', 'UUID', '-o', 'value', '-O', String(candidate.startBytes), device], {
          okExitCodes: [0, 2],
        });
        if (stdout.trim().toLowerCase() === wanted) partition = candidate;
      }
    }
  }
  partition ??= table.partitions.find((p) => isEfiSystemPartition(table, p));
  if (!partition) {
    throw new DeviceNotFound(`No EFI system partition found on ${device}${uuid ? ` (looked for uuid ${uuid} and for the ESP partition type)` : ''}`);
  }
  return { table, partition };
}

/** Mounts the ESP read-only and lists the loaders to register. */
export async function findEfiLoaders(exec: Exec, device: string, partition: PartitionEntry): Promise<EfiLoader[]> {
  const mountpoint = await mkdtemp(join(tmpdir(), 'ramdisk-agent-esp-'));
  const source = (await access(partition.node).then(() => true, () => false)) ? partition.node : device;
  const offset = source === device ? [`,offset=${partition.startBytes},sizelimit=${partition.sizeBytes}`] : [''];
  try {
    await exec('mount', ['-t', 'vfat', '-o', `ro,nodev,nosuid,noexec${offset[0]}`, source, mountpoint]);
    try {
      return await scanEsp(mountpoint);
    } finally {
      await exec('umount', [mountpoint]);
    }
  } finally {
    await rmdir(mountpoint).catch(() => undefined);
  }
}

async function listDir(path: string): Promise<string[]> {
  return readdir(path).catch(() => [] as string[]);
}

function findName(names: string[], wanted: string): string | undefined {
  return names.find((n) => n.toLowerCase() === wanted.toLowerCase());
}

async function scanEsp(root: string): Promise<EfiLoader[]> {
  const efiDir = findName(await listDir(root), 'EFI');
  if (!efiDir) return [];
  const vendors = (await listDir(join(root, efiDir))).sort();
  const loaders: EfiLoader[] = [];
  // shim's CSV names the loader and its label: the distribution's own choice wins.
  for (const vendor of vendors) {
    const files = await listDir(join(root, efiDir, vendor));
    const csv = findName(files, `BOOT${EFI_ARCH.toUpperCase()}.CSV`) ?? findName(files, 'BOOT.CSV');
    if (!csv) continue;
    for (const entry of parseBootCsv(await readFile(join(root, efiDir, vendor, csv)))) {
      const loader = findName(files, entry.file);
      if (loader) loaders.push({ path: `\\${efiDir}\\${vendor}\\${loader}`, label: entry.label });
    }
  }
  if (loaders.length > 0) return loaders;
  for (const name of [`shim${EFI_ARCH}.efi`, `grub${EFI_ARCH}.efi`]) {
    for (const vendor of vendors.filter((v) => v.toLowerCase() !== 'boot')) {
      const file = findName(await listDir(join(root, efiDir, vendor)), name);
      if (file) return [{ path: `\\${efiDir}\\${vendor}\\${file}`, label: vendor }];
    }
  }
  const bootDir = findName(vendors, 'BOOT');
  if (bootDir) {
    const file = findName(await listDir(join(root, efiDir, bootDir)), `BOOT${EFI_ARCH.toUpperCase()}.EFI`);
    if (file) return [{ path: `\\${efiDir}\\${bootDir}\\${file}`, label: 'ironic1' }];
  }
  return [];
}

/** shim's BOOT<ARCH>.CSV: UCS-2 (or UTF-8) lines `loader.efi,label,options,description`. */
export function parseBootCsv(raw: Buffer): { file: string; label: string }[] {
  const utf16 = raw.length >= 2 && raw[0] === 0xff && raw[1] === 0xfe;
  const text = utf16 ? raw.subarray(2).toString('utf16le') : raw.toString('utf8');
  return text
    .split(/\r?\n/)
    .map((line) => line.split(','))
    .filter((fields) => fields.length >= 2 && fields[0]!.trim() && fields[1]!.trim())
    .map((fields) => ({ file: fields[0]!.trim(), label: fields[1]!.trim() }));
}

/** Replaces NVRAM entries of the same labels with entries for `loaders` on `device`'s ESP. */
export async function registerBootEntries(exec: Exec, device: string, partition: PartitionEntry, loaders: EfiLoader[]): Promise<void> {
  if (!(await hasCommand('efibootmgr'))) {
    throw new CommandExecutionError('efibootmgr is not available in the ramdisk; cannot add UEFI boot entries');
  }
  if (!(await bootedInUefi())) {
    throw new CommandExecutionError(
      'the agent was not booted in UEFI mode (/sys/firmware/efi is missing), so efibootmgr cannot write UEFI boot entries ' +
        `for ${loaders.map((l) => l.path).join(', ')} on ${partition.node}`,
    );
  }
  const { stdout } = await exec('efibootmgr', ['-v']);
  const labels = new Set(loaders.map((l) => l.label));
  for (const line of stdout.split('\n')) {
    const match = /^Boot([0-9A-Fa-f]{4})\*?\s+(.+?)(?:\t|\s{2,}|$)/.exec(line);
    if (match && labels.has(match[2]!.trim())) await exec('efibootmgr', ['-b', match[1]!, '-B']);
  }
  // Added in reverse so the first loader ends up first in BootOrder (efibootmgr -c prepends).
  for (const loader of [...loaders].reverse()) {
    await exec('efibootmgr', ['-v', '-c', '-d', device, '-p', String(partition.number), '-w', '-L', loader.label, '-l', loader.path]);
  }
}
