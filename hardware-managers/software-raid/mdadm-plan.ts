/**
 * The `mdadm --create` command of each array, as IPA's `raid_utils.create_raid_device`
 * builds it: `/dev/md<i>` for the i-th logical disk in partitioning order, metadata 1 (1.2:
 * superblock 4 KiB from the start, so nothing at the start of a member looks bootable),
 * `--force --run` (no questions, arrays of any member count the level allows), the volume
 * name (else `md<i>`), level `1+0` given to mdadm as `10`.
 */
import type { DiskLayout, PlacedLogicalDisk } from './partition-plan.js';
import { volumeLabel } from './partition-plan.js';

export interface PlannedArray {
  device: string;
  volumeIndex: number;
  volumeName: string;
  raidLevel: string;
  mdadmLevel: string;
  isRootVolume: boolean | undefined;
  members: string[];
  /** Holder disks, in member order. */
  disks: string[];
  argv: string[];
}

/** Members mdadm needs at least per level (RAID-1/1+0 of one disk would mirror nothing). */
export const MIN_MEMBERS: Readonly<Record<string, number>> = { '0': 1, '1': 2, '1+0': 2, '5': 3, '6': 4 };

function mdadmLevel(raidLevel: string): string {
  return raidLevel === '1+0' ? '10' : raidLevel;
}

/**
 * `taken` are md device paths already in use (kept arrays): a new array takes the next free
 * number instead of failing on an existing `/dev/md<i>` (IPA would).
 */
export function planArrays(
  placed: readonly PlacedLogicalDisk[],
  layouts: readonly DiskLayout[],
  taken: ReadonlySet<string> = new Set(),
): PlannedArray[] {
  const used = new Set(taken);
  return placed.map(({ logicalDisk, holders }, volumeIndex) => {
    let number = volumeIndex;
    while (used.has(`/dev/md${number}`)) number++;
    const device = `/dev/md${number}`;
    used.add(device);
    const members = holders.map((disk) => {
      const partition = layouts.find((l) => l.disk === disk)?.partitions.find((p) => p.volumeIndex === volumeIndex);
      if (!partition) throw new Error(`internal: no planned partition of logical disk ${volumeIndex} on ${disk}`);
      return partition.node;
    });
    const volumeName = volumeLabel(logicalDisk, volumeIndex);
    const level = mdadmLevel(logicalDisk.raid_level);
    return {
      device,
      volumeIndex,
      volumeName,
      raidLevel: logicalDisk.raid_level,
      mdadmLevel: level,
      isRootVolume: logicalDisk.is_root_volume,
      members,
      disks: [...holders],
      argv: [
        '--create',
        device,
        '--force',
        '--run',
        '--metadata=1',
        '--level',
        level,
        '--name',
        volumeName,
        '--raid-devices',
        String(members.length),
        ...members,
      ],
    };
  });
}
