/**
 * The partition table a partition image is written into, as IPA's `disk_utils.make_partitions`
 * lays it out (with `boot_option` "local", which IPA's `work_on_disk` always passes), and the
 * one `parted` command its `DiskPartitioner.commit` runs to make it: partitions one after the
 * other from 1 MiB, sizes in MiB, in this order:
 *   ESP (UEFI) | BIOS boot partition (BIOS on GPT, not ppc64) | PReP (BIOS on ppc64) |
 *   ephemeral | swap | config drive | root,
 * root last so cloud-init's growpart can grow it to the disk's end. The msdos boot flag goes on
 * the root partition (BIOS, x86). Pure: the writer runs what this plans.
 */
import type { BootMode, TableType } from '../../src/hardware/index.js';

/** The keys of IPA's `part_dict` (the `partitions` of `get_partition_uuids`). */
export type PartitionRole =
  'efi system partition' | 'BIOS Boot partition' | 'PReP Boot partition' | 'ephemeral' | 'swap' | 'configdrive' | 'root';

export interface LayoutRequest {
  rootMb: number;
  swapMb: number;
  ephemeralMb: number;
  /** The config drive's size rounded up to whole MiB; 0 for none. */
  configdriveMb: number;
  bootMode: BootMode;
  diskLabel: TableType;
  /** `os.machine()` (IPA: `get_cpus().architecture`): ppc64* gets a PReP partition. */
  cpuArch: string;
  /** IPA's `[disk_utils] efi_system_partition_size` (550) and `bios_boot_partition_size` (1). */
  efiSystemPartitionMb: number;
  biosBootPartitionMb: number;
}

interface PlannedPartition {
  role: PartitionRole;
  number: number;
  startMib: number;
  endMib: number;
  /** parted's file system type argument ('' for a Linux partition, as IPA passes it). */
  fsType: string;
  /** Flags set on it, in IPA's order. */
  flags: string[];
}

export interface PartitionLayout {
  label: TableType;
  partitions: PlannedPartition[];
  /** Where the last partition ends: the disk must be at least this large (plus GPT's backup). */
  endMib: number;
}

/** IPA's `DiskPartitioner.commit` leads in with 1 MiB for the partition table. */
const LEAD_IN_MIB = 1;
/** IPA's PReP partition: 8 MiB. */
const PREP_MIB = 8;

export function planPartitions(request: LayoutRequest): PartitionLayout {
  const { bootMode, diskLabel, cpuArch } = request;
  const ppc64 = cpuArch.startsWith('ppc64');
  const wanted: Omit<PlannedPartition, 'number' | 'startMib' | 'endMib'>[] = [];
  const sizes: number[] = [];
  const add = (role: PartitionRole, sizeMib: number, fsType = '', flags: string[] = []) => {
    wanted.push({ role, fsType, flags });
    sizes.push(sizeMib);
  };
  if (bootMode === 'uefi') add('efi system partition', request.efiSystemPartitionMb, 'fat32', ['boot']);
  if (bootMode === 'bios' && diskLabel === 'gpt' && !ppc64)
    add('BIOS Boot partition', request.biosBootPartitionMb, '', ['bios_grub']);
  if (ppc64 && bootMode === 'bios')
    add('PReP Boot partition', PREP_MIB, '', [...(diskLabel === 'msdos' ? ['boot'] : []), 'prep']);
  if (request.ephemeralMb) add('ephemeral', request.ephemeralMb);
  if (request.swapMb) add('swap', request.swapMb, 'linux-swap');
  if (request.configdriveMb) add('configdrive', request.configdriveMb);
  add('root', request.rootMb, '', !ppc64 && bootMode === 'bios' && diskLabel === 'msdos' ? ['boot'] : []);

  let start = LEAD_IN_MIB;
  const partitions = wanted.map((partition, index) => {
    const end = start + sizes[index]!;
    const planned = { ...partition, number: index + 1, startMib: start, endMib: end };
    start = end;
    return planned;
  });
  return { label: diskLabel, partitions, endMib: start };
}

/** IPA's parted command line for the layout: `parted -a optimal -s <dev> -- unit MiB mklabel ...`. */
export function partedArguments(device: string, layout: PartitionLayout): string[] {
  const args = ['-a', 'optimal', '-s', device, '--', 'unit', 'MiB', 'mklabel', layout.label];
  for (const p of layout.partitions) {
    args.push('mkpart', 'primary', p.fsType, String(p.startMib), String(p.endMib));
    for (const flag of p.flags) args.push('set', String(p.number), flag, 'on');
  }
  return args;
}

/** IPA's `partition_index_to_path`: `/dev/sda1`, but `/dev/nvme0n1p1`, `/dev/loop3p1`. */
export function partitionPath(device: string, number: number): string {
  return /\d$/.test(device) ? `${device}p${number}` : `${device}${number}`;
}
