/**
 * The partition table of the disk an image was written to: read with `sfdisk --json`
 * (authoritative, no udev needed), re-read by the kernel after a write, GPT backup header
 * moved to the real end of the disk, and IPA's MBR "disk identifier".
 */
import { access, open, readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ExecError, hasCommand } from '../exec.js';
import type { Exec } from '../step-context.js';

export const ESP_GPT_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const ESP_MBR_TYPE = 'ef';
const BIOS_BOOT_GPT_TYPE = '21686148-6449-6e6f-744e-656564454649';
const PREP_GPT_TYPE = '9e1a2d38-c612-4316-aa26-8b49521e5a8b';
const PREP_MBR_TYPES = new Set(['41']);

const sfdiskSchema = z.object({
  partitiontable: z.object({
    label: z.string(),
    id: z.string().optional(),
    device: z.string(),
    sectorsize: z.number().int().positive().default(512),
    lastlba: z.number().int().optional(),
    partitions: z
      .array(
        z.object({
          node: z.string(),
          start: z.number().int(),
          size: z.number().int(),
          type: z.string(),
          uuid: z.string().optional(),
          name: z.string().optional(),
        }),
      )
      .default([]),
  }),
});

export interface PartitionEntry {
  /** Partition number (1-based, as the kernel names it). */
  number: number;
  /** `/dev/loop0p1`, `/dev/sda1` (for a plain file: `disk.img1`, which does not exist). */
  node: string;
  startBytes: number;
  sizeBytes: number;
  /** GPT type GUID (lower case) or MBR type byte (`ef`, `83`). */
  type: string;
  /** PARTUUID as blkid prints it: a lower-case GUID (GPT) or `<disk id>-<nn>` (MBR). */
  partUuid: string | undefined;
  name: string | undefined;
}

export interface PartitionTable {
  label: 'gpt' | 'dos';
  /** GPT disk GUID or MBR id (`0x1a2b3c4d`), lower case. */
  id: string;
  sectorSize: number;
  partitions: PartitionEntry[];
}

/** The disk's partition table, or undefined when it has none sfdisk recognises. */
export async function readPartitionTable(exec: Exec, device: string): Promise<PartitionTable | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await exec('sfdisk', ['--json', device], { quiet: true }));
  } catch (error) {
    if (error instanceof ExecError && /does not contain a recognized partition table/i.test(error.stderr)) return undefined;
    throw error;
  }
  if (!stdout.trim()) return undefined;
  const table = sfdiskSchema.parse(JSON.parse(stdout)).partitiontable;
  if (table.label !== 'gpt' && table.label !== 'dos') return undefined;
  const id = (table.id ?? '').toLowerCase();
  const sector = table.sectorsize;
  return {
    label: table.label,
    id,
    sectorSize: sector,
    partitions: table.partitions.map((p) => {
      const number = Number(/(\d+)$/.exec(p.node)?.[1] ?? 0);
      return {
        number,
        node: p.node,
        startBytes: p.start * sector,
        sizeBytes: p.size * sector,
        type: p.type.toLowerCase(),
        partUuid:
          table.label === 'gpt'
            ? p.uuid?.toLowerCase()
            : id
              ? `${id.replace(/^0x/, '')}-${String(number).padStart(2, '0')}`
              : undefined,
        name: p.name,
      };
    }),
  };
}

export function isEfiSystemPartition(table: PartitionTable, entry: PartitionEntry): boolean {
  return table.label === 'gpt' ? entry.type === ESP_GPT_TYPE : entry.type === ESP_MBR_TYPE;
}

export function isPrepBootPartition(table: PartitionTable, entry: PartitionEntry): boolean {
  return table.label === 'gpt' ? entry.type === PREP_GPT_TYPE : PREP_MBR_TYPES.has(entry.type);
}

export function isBiosBootPartition(table: PartitionTable, entry: PartitionEntry): boolean {
  return table.label === 'gpt' && entry.type === BIOS_BOOT_GPT_TYPE;
}

/**
 * Make the kernel re-read the partition table (IPA: sync, udevadm settle, partprobe with
 * retries, udevadm settle). Plain files have nothing to re-read.
 */
export async function rescanPartitions(exec: Exec, device: string, isBlockDevice: boolean): Promise<void> {
  if (!isBlockDevice) return;
  await exec('sync').catch(() => undefined);
  await settleUdev(exec);
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await exec('partprobe', [device]);
      lastError = undefined;
      break;
    } catch (error) {
      lastError = error;
      // "Device or resource busy" right after a write: the kernel still holds the old table.
      await sleep(500);
    }
  }
  if (lastError) throw lastError;
  await settleUdev(exec);
}

async function settleUdev(exec: Exec): Promise<void> {
  // Without a running udevd (a minimal ramdisk, a container) settle has nothing to wait for.
  if (!(await hasCommand('udevadm'))) return;
  await exec('udevadm', ['settle', '--timeout=30']).catch(() => undefined);
}

/** Wait until the kernel created the partitions' device nodes (devtmpfs or udev). */
export async function waitForPartitionNodes(table: PartitionTable, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const present = await Promise.all(
      table.partitions.map((p) =>
        access(p.node).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (present.every(Boolean)) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * Whether the GPT's backup header already sits on the device's last sector (the primary
 * header's "alternate LBA" field): then relocating would only rewrite the protective MBR
 * and an image as large as the disk would no longer be byte-identical.
 */
export async function gptBackupAtEnd(device: string, sectorSize: number): Promise<boolean> {
  const handle = await open(device, 'r');
  try {
    const header = Buffer.alloc(92);
    await handle.read(header, 0, header.length, sectorSize);
    if (header.toString('latin1', 0, 8) !== 'EFI PART') return false;
    const alternate = header.readBigUInt64LE(32);
    const { size } = await handle.stat();
    const bytes = size > 0 ? size : await blockDeviceBytes(device);
    return alternate === BigInt(Math.floor(bytes / sectorSize) - 1);
  } finally {
    await handle.close();
  }
}

/** Size of a block device (stat reports 0 for device nodes); /sys counts 512-byte units. */
async function blockDeviceBytes(device: string): Promise<number> {
  const name = basename(await realpath(device));
  return Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim()) * 512;
}

/**
 * IPA's `fix_gpt_partition`: an image smaller than the disk leaves GPT's backup header
 * mid-disk. sfdisk does it in milliseconds; `sgdisk -e` sleeps a second after writing.
 */
export async function moveGptBackupToEnd(exec: Exec, device: string): Promise<void> {
  await exec('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', '--relocate', 'gpt-bak-std', device]);
}

/**
 * IPA's whole-disk "root uuid": the 4-byte MBR disk signature at offset 440, as
 * `hexdump -s 440 -n 4 -e '"0x%08x"'` prints it (little endian).
 */
export async function diskIdentifier(device: string): Promise<string> {
  const handle = await open(device, 'r');
  try {
    const buffer = Buffer.alloc(4);
    await handle.read(buffer, 0, 4, 440);
    return `0x${buffer.readUInt32LE(0).toString(16).padStart(8, '0')}`;
  } finally {
    await handle.close();
  }
}

/** IPA's `destroy_disk_metadata`: the old partition table must not outlive the new image. */
export async function wipeDiskSignatures(exec: Exec, device: string): Promise<void> {
  await exec('wipefs', ['--all', '--force', device]);
}

/** `blkid` low-level probe of a filesystem at a byte offset of a disk (works for plain files too). */
export async function probeFilesystemAt(exec: Exec, device: string, offsetBytes: number): Promise<Record<string, string>> {
  try {
    const { stdout } = await exec('blkid', ['-p', '-o', 'export', '-O', String(offsetBytes), device], { okExitCodes: [0, 2] });
    const values: Record<string, string> = {};
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return values;
  } catch {
    return {};
  }
}

/**
 * IPA's `partition_utils.get_partition`: the partition of `table` (read from `device`) whose
 * filesystem UUID, PARTUUID or filesystem label is `uuid`, in partition order, each checked
 * in that order. UUIDs are compared without case (lsblk prints FAT UUIDs in upper case,
 * Glance properties hold what the operator typed); labels exactly. Read from the table and
 * with `blkid -p` at each partition's offset, so no udev database and no partition device
 * node is needed. Undefined when none matches: the caller decides the fallback.
 */
export async function findPartitionByUuid(
  exec: Exec,
  device: string,
  table: PartitionTable,
  uuid: string,
): Promise<PartitionEntry | undefined> {
  const wanted = uuid.toLowerCase();
  for (const partition of table.partitions) {
    const probed = await probeFilesystemAt(exec, device, partition.startBytes);
    if (probed.UUID?.toLowerCase() === wanted) return partition;
    if (partition.partUuid === wanted) return partition;
    if (probed.LABEL === uuid) return partition;
  }
  return undefined;
}
