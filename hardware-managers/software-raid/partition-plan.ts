/**
 * Where each RAID member partition goes, computed before anything is written, and the
 * exact partitioning command per holder disk. Geometry follows IPA's
 * (`raid_utils.calculate_raid_start`, `calc_raid_partition_sectors`):
 *  - the first RAID partition starts at 551 MiB in UEFI mode (room for the 550 MiB ESP
 *    that install_bootloader mirrors across the holders), 8 MiB for BIOS on GPT (BIOS boot
 *    partition), else at the first usable sector (1 MiB on an MBR);
 *  - the first partition ends at `size_gb` GiB from the disk start (so it is slightly
 *    smaller than `size_gb`), each later one `size_gb` GiB after the previous end, `MAX`
 *    runs to the end of the disk; logical disks are taken with `MAX` last.
 * Deliberate differences: sector-exact `sgdisk` (GPT) / `sfdisk` (MBR) scripts replace
 * IPA's `parted mklabel` + one `parted mkpart` per partition, so a disk gets its whole
 * table in one write, the layout is known (and checked to fit) before the first write, and
 * partitions carry the Linux RAID type and the volume name.
 */
import { SoftwareRAIDError } from '../../src/hardware/index.js';
import type { BootMode, TableType } from '../../src/hardware/index.js';
import type { LogicalDisk } from './raid-config.js';

export const ESP_SIZE_MIB = 550;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** GPT keeps 16 KiB of partition entries plus a header at the end of the disk. */
const GPT_ENTRIES_BYTES = 16 * 1024;

export interface HolderDisk {
  path: string;
  sizeBytes: number;
  logicalSectorSize: number;
}

/** A logical disk with the holder disks chosen for it (IPA's `block_devices`). */
export interface PlacedLogicalDisk {
  logicalDisk: LogicalDisk;
  holders: string[];
}

interface PlannedPartition {
  disk: string;
  /** 1-based number on its disk. */
  number: number;
  /** The kernel's device node for it: `/dev/sda1`, `/dev/nvme0n1p1`, `/dev/loop0p1`. */
  node: string;
  startSector: number;
  /** Inclusive; null = to the end of the disk (`MAX`). */
  endSector: number | null;
  sizeBytes: number;
  /** Index of the logical disk (in partitioning order) this partition belongs to. */
  volumeIndex: number;
}

export interface DiskLayout {
  disk: string;
  table: TableType;
  sectorSize: number;
  partitions: PlannedPartition[];
  command: { file: string; args: string[]; input?: string };
}

/** The kernel's partition name: a `p` separator when the disk's name ends with a digit. */
export function partitionNode(disk: string, number: number): string {
  return `${disk}${/\d$/.test(disk) ? 'p' : ''}${number}`;
}

/** Byte offset of the first RAID partition (IPA's `calculate_raid_start`). */
function firstPartitionStartBytes(bootMode: BootMode, table: TableType): number {
  if (bootMode === 'uefi') return (ESP_SIZE_MIB + 1) * MiB;
  // IPA asks `sgdisk -F` on the fresh MBR; on any disk this tool partitions that is 1 MiB.
  return table === 'gpt' ? 8 * MiB : MiB;
}

function lastUsableSector(disk: HolderDisk, table: TableType): number {
  const sectors = Math.floor(disk.sizeBytes / disk.logicalSectorSize);
  if (table === 'msdos') return sectors - 1;
  return sectors - 2 - Math.ceil(GPT_ENTRIES_BYTES / disk.logicalSectorSize);
}

function describe(logicalDisk: LogicalDisk, index: number): string {
  return `logical disk ${index} (${logicalDisk.volume_name ? `"${logicalDisk.volume_name}", ` : ''}RAID-${logicalDisk.raid_level}, size_gb ${logicalDisk.size_gb})`;
}

/** The partitions of every holder; throws before any write when a partition cannot fit. */
export function planPartitions(
  placed: readonly PlacedLogicalDisk[],
  holders: ReadonlyMap<string, HolderDisk>,
  table: TableType,
  bootMode: BootMode,
): DiskLayout[] {
  const startBytes = firstPartitionStartBytes(bootMode, table);
  const layouts = new Map<string, DiskLayout>();
  // IPA's parted_start_dict: the first partition's start is the boot gap; later ones start
  // where the previous one ended, on a GiB boundary.
  const cursorGiB = new Map<string, number | undefined>();

  placed.forEach(({ logicalDisk, holders: disks }, volumeIndex) => {
    for (const path of disks) {
      const disk = holders.get(path);
      if (!disk) throw new SoftwareRAIDError(`No holder disk ${path} for ${describe(logicalDisk, volumeIndex)}`);
      const sector = disk.logicalSectorSize;
      let layout = layouts.get(path);
      if (!layout) {
        layout = { disk: path, table, sectorSize: sector, partitions: [], command: { file: '', args: [] } };
        layouts.set(path, layout);
      }
      const previousEnd = cursorGiB.get(path);
      const startSector = previousEnd === undefined ? startBytes / sector : (previousEnd * GiB) / sector;
      const last = lastUsableSector(disk, table);
      let endSector: number | null;
      if (logicalDisk.size_gb === 'MAX') {
        endSector = null;
        if (last - startSector + 1 < MiB / sector) {
          throw new SoftwareRAIDError(
            `No room left on ${path} for ${describe(logicalDisk, volumeIndex)}: the previous partitions end at sector ${startSector - 1} of ${last}`,
          );
        }
      } else {
        const endGiB = (previousEnd ?? 0) + logicalDisk.size_gb;
        endSector = (endGiB * GiB) / sector - 1;
        if (endSector <= startSector) {
          throw new SoftwareRAIDError(
            `${describe(logicalDisk, volumeIndex)} leaves no room for a partition on ${path}: it would end at ${endGiB} GiB, before its start at ${(startSector * sector) / MiB} MiB`,
          );
        }
        if (endSector > last) {
          throw new SoftwareRAIDError(
            `${describe(logicalDisk, volumeIndex)} does not fit on ${path}: its partition would end at ${endGiB} GiB but the disk has ${disk.sizeBytes} bytes (${((last + 1) * sector) / GiB} GiB usable)`,
          );
        }
        cursorGiB.set(path, endGiB);
      }
      const number = layout.partitions.length + 1;
      layout.partitions.push({
        disk: path,
        number,
        node: partitionNode(path, number),
        startSector,
        endSector,
        sizeBytes: ((endSector ?? last) - startSector + 1) * sector,
        volumeIndex,
      });
      if (endSector === null) cursorGiB.set(path, Number.POSITIVE_INFINITY);
    }
  });

  for (const layout of layouts.values()) {
    layout.command = partitionCommand(layout, (index) => volumeLabel(placed[index]!.logicalDisk, index));
  }
  return [...layouts.values()];
}

/** The name IPA gives an array: the volume name, else `md<index>`. */
export function volumeLabel(logicalDisk: LogicalDisk, index: number): string {
  return logicalDisk.volume_name ?? `md${index}`;
}

/** One command writes the disk's whole new table (the old one, if any, is replaced). */
function partitionCommand(layout: DiskLayout, label: (volumeIndex: number) => string): DiskLayout['command'] {
  if (layout.table === 'gpt') {
    const args = ['--clear'];
    for (const p of layout.partitions) {
      args.push(
        '--new',
        `${p.number}:${p.startSector}:${p.endSector ?? 0}`,
        '--typecode',
        `${p.number}:fd00`,
        '--change-name',
        `${p.number}:${label(p.volumeIndex)}`,
      );
    }
    return { file: 'sgdisk', args: [...args, layout.disk] };
  }
  const lines = ['label: dos'];
  for (const p of layout.partitions) {
    lines.push(
      p.endSector === null
        ? `start=${p.startSector}, type=fd`
        : `start=${p.startSector}, size=${p.endSector - p.startSector + 1}, type=fd`,
    );
  }
  return { file: 'sfdisk', args: ['--quiet', '--no-reread', '--no-tell-kernel', layout.disk], input: `${lines.join('\n')}\n` };
}
