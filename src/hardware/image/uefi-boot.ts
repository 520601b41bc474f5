/**
 * UEFI boot entries for a written whole-disk image (reference §14.9, IPA's
 * `efi_utils.manage_uefi`): find the EFI system partition on the disk, look on it for
 * the loaders the image ships (shim's BOOT<ARCH>.CSV first, then shim/grub, then the
 * removable-media path; read with mtools, no mount), and register them in NVRAM with
 * `efibootmgr`, replacing
 * entries of the same label.
 */
import { access, mkdtemp, readFile as fsReadFile, rm } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandExecutionError, DeviceNotFound } from '../errors.js';
import { ExecError, hasCommand } from '../exec.js';
import type { Exec } from '../step-context.js';
import {
  findPartitionByUuid,
  isEfiSystemPartition,
  readPartitionTable,
  type PartitionEntry,
  type PartitionTable,
} from './disk-layout.js';

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

/** The ESP of `device`: the one whose FS UUID/PARTUUID/label is `uuid` when given, else the first by partition type. */
export async function findEfiSystemPartition(
  exec: Exec,
  device: string,
  uuid?: string | null,
): Promise<{ table: PartitionTable; partition: PartitionEntry }> {
  const table = await readPartitionTable(exec, device);
  let partition = table && uuid ? await findPartitionByUuid(exec, device, table, uuid) : undefined;
  partition ??= table?.partitions.find((p) => isEfiSystemPartition(table, p));
  if (!table || !partition) {
    // IPA's messages (manage_uefi; get_partition when a UUID was given): operators search for them.
    throw new DeviceNotFound(
      uuid
        ? `No partition with UUID ${uuid} found on device ${device}`
        : `No EFI partition could be detected on device ${device} and EFI partition UUID has not been recorded during ` +
            'deployment (which is often the case for whole disk images). Are you using a UEFI-compatible image?',
    );
  }
  return { table, partition };
}

/**
 * Lists the loaders to register, reading the ESP's FAT with mtools straight from the disk
 * at the partition's offset: no mount, no kernel FAT driver needed (minimal ramdisk
 * kernels and containers often have none), nothing to clean up.
 */
export async function findEfiLoaders(exec: Exec, device: string, partition: PartitionEntry): Promise<EfiLoader[]> {
  const image = `${device}@@${partition.startBytes}`;
  const env = { MTOOLS_SKIP_CHECK: '1' };
  let listing: string;
  try {
    ({ stdout: listing } = await exec('mdir', ['-/', '-b', '-i', image, '::/'], { env, quiet: true }));
  } catch (error) {
    if (error instanceof ExecError && error.reason === 'not-found') {
      throw new CommandExecutionError('mtools (mdir) is not available in the ramdisk; cannot read the EFI system partition');
    }
    throw new CommandExecutionError(`Cannot read the FAT filesystem of ${partition.node}: ${(error as Error).message}`);
  }
  const files = listing
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('::/') && !line.endsWith('/'))
    .map((line) => line.slice(3));
  const readFile = async (path: string): Promise<Buffer> => {
    const dir = await mkdtemp(join(tmpdir(), 'ramdisk-agent-esp-'));
    try {
      const out = join(dir, 'file');
      await exec('mcopy', ['-n', '-i', image, `::/${path}`, out], { env });
      return await fsReadFile(out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  return chooseLoaders(files, readFile);
}

/**
 * The loaders among the ESP's files (paths like `EFI/debian/shimx64.efi`). As IPA's
 * _get_efi_bootloaders, a shim CSV wins and names loader and label. Deliberately unlike IPA
 * after that: IPA registers every file of its list found anywhere (`bootx64.efi`,
 * `grubaa64.efi`, ... but not `shimx64.efi` or `grubx64.efi`) as `ironic1`, `ironic2`, ...;
 * here the distribution's shim, else its grub, labelled with its folder, comes before the
 * removable-media `\EFI\BOOT\BOOT<ARCH>.EFI` (`ironic1`), and only `EFI/<dir>/<file>` is looked at.
 */
export async function chooseLoaders(files: readonly string[], readFile: (path: string) => Promise<Buffer>): Promise<EfiLoader[]> {
  const split = files.map((f) => f.split('/')).filter((parts) => parts.length === 3 && parts[0]!.toLowerCase() === 'efi');
  const toEfiPath = (parts: string[]) => `\\${parts.join('\\')}`;
  const loaders: EfiLoader[] = [];
  // shim's CSV names the loader and its label: the distribution's own choice wins.
  for (const parts of split) {
    const name = parts[2]!.toLowerCase();
    if (name !== `boot${EFI_ARCH}.csv` && name !== 'boot.csv') continue;
    for (const entry of parseBootCsv(await readFile(parts.join('/')))) {
      const loader = split.find((p) => p[1] === parts[1] && p[2]!.toLowerCase() === entry.file.toLowerCase());
      if (loader) loaders.push({ path: toEfiPath(loader), label: entry.label });
    }
  }
  if (loaders.length > 0) return loaders;
  for (const wanted of [`shim${EFI_ARCH}.efi`, `grub${EFI_ARCH}.efi`]) {
    const found = split.find((p) => p[1]!.toLowerCase() !== 'boot' && p[2]!.toLowerCase() === wanted);
    if (found) return [{ path: toEfiPath(found), label: found[1]! }];
  }
  const fallback = split.find((p) => p[1]!.toLowerCase() === 'boot' && p[2]!.toLowerCase() === `boot${EFI_ARCH}.efi`);
  return fallback ? [{ path: toEfiPath(fallback), label: 'ironic1' }] : [];
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

export interface BootRecord {
  /** `0001`, as efibootmgr -b wants it. */
  bootNum: string;
  label: string;
  /** The device path: `HD(1,GPT,...)/File(\EFI\...)`, `PciRoot(...)`, ... */
  path: string;
}

// IPA's _ENTRY_LABEL.
const ENTRY = /^Boot([0-9a-fA-F-]+)\*?\s+(.*?)\s+((BBS|HD|FvFile|FvVol|PciRoot|VenMsg|VenHw|UsbClass)\(.*)$/;

/**
 * Some efibootmgr builds print UTF-16; through a UTF-8 reader every ASCII character then
 * comes with a NUL (and the byte-order mark as U+FFFD). IPA decodes UTF-16 first when the
 * `BootCurrent: ` line appears that way; here the NULs are dropped.
 */
function decodeEfibootmgrOutput(text: string): string {
  if (/^BootCurrent: /m.test(text)) return text;
  return text.replace(/[\u0000\ufeff\ufffd]/g, '');
}

/** IPA's `efi_utils.get_boot_records`: the entries of an `efibootmgr -v` output. */
export function parseBootRecords(output: string): BootRecord[] {
  const records: BootRecord[] = [];
  for (const line of decodeEfibootmgrOutput(output).split('\n')) {
    const match = ENTRY.exec(line.replace(/\r$/, ''));
    if (match) records.push({ bootNum: match[1]!, label: match[2]!, path: match[3]! });
  }
  return records;
}

/** Replaces NVRAM entries of the same labels with entries for `loaders` on `device`'s ESP. */
export async function registerBootEntries(
  exec: Exec,
  device: string,
  partition: PartitionEntry,
  loaders: EfiLoader[],
): Promise<void> {
  if (!(await hasCommand('efibootmgr'))) {
    throw new CommandExecutionError('efibootmgr is not available in the ramdisk; cannot add UEFI boot entries');
  }
  if (!(await bootedInUefi())) {
    throw new CommandExecutionError(
      'the agent was not booted in UEFI mode (/sys/firmware/efi is missing), so efibootmgr cannot write UEFI boot entries ' +
        `for ${loaders.map((l) => l.path).join(', ')} on ${partition.node}`,
    );
  }
  await replaceBootEntries(exec, device, partition, loaders);
}

/**
 * IPA's `_run_efibootmgr`, once registerBootEntries has checked efibootmgr can run: entries
 * of the loaders' labels are removed (found as get_boot_records finds them, so in UTF-16
 * output too), then the loaders are added.
 */
export async function replaceBootEntries(
  exec: Exec,
  device: string,
  partition: PartitionEntry,
  loaders: EfiLoader[],
): Promise<void> {
  const { stdout } = await exec('efibootmgr', ['-v']);
  const labels = new Set(loaders.map((l) => l.label));
  for (const record of parseBootRecords(stdout)) {
    if (labels.has(record.label)) await exec('efibootmgr', ['-b', record.bootNum, '-B']);
  }
  // Added in reverse so the first loader ends up first in BootOrder (efibootmgr -c prepends).
  for (const loader of [...loaders].reverse()) {
    await exec('efibootmgr', [
      '-v',
      '-c',
      '-d',
      device,
      '-p',
      String(partition.number),
      '-w',
      '-L',
      loader.label,
      '-l',
      loader.path,
    ]);
  }
}
