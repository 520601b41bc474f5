/**
 * The software RAID scenarios' machine and checks (our conductor and stock Ironic): two more
 * 2 GiB SATA disks, a target_raid_config of a RAID-1 root and a RAID-0 `MAX` volume on those
 * two disks (named by serial, so the small virtio/SATA and the NVMe disks stay out), and the
 * host's reading of the disk files afterwards.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { dataOffsetBytes, type DiskPartition, examinePartition, mdMagicAt, partitionsOf, readAt } from './md-check.js';
import type { ExtraDisk } from './vm.js';

export const RAID_DISKS: ExtraDisk[] = [
  { name: 'raid-a', sizeMiB: 2048, serial: 'E2E-RAID-A' },
  { name: 'raid-b', sizeMiB: 2048, serial: 'E2E-RAID-B' },
];

const physical_disks = RAID_DISKS.map((d) => ({ serial: d.serial }));
export const TARGET_RAID_CONFIG = {
  logical_disks: [
    { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true, physical_disks },
    { size_gb: 'MAX', raid_level: '0', controller: 'software', physical_disks },
  ],
};

export interface RaidMember {
  file: string;
  partition: DiskPartition;
  dataOffsetBytes: number;
}

export interface RaidCheck {
  root: RaidMember[];
  /** Every member partition seen, per disk file (the places a superblock must be gone from later). */
  partitions: Map<string, DiskPartition[]>;
  summary: string;
}

/** Both disks carry two md members: RAID-1 `rootName` (first partitions) and RAID-0. */
export function checkRaidMembers(files: readonly string[], rootName = 'md0'): RaidCheck {
  const arrays = new Map<string, { level: string; name: string; devices: string; members: RaidMember[] }>();
  const partitions = new Map<string, DiskPartition[]>();
  for (const file of files) {
    const table = partitionsOf(file);
    expect(table.partitions, `partition table of ${file}`).toHaveLength(2);
    partitions.set(file, table.partitions);
    for (const partition of table.partitions) {
      const { fields, text } = examinePartition(file, partition);
      expect(fields['Magic'], `mdadm --examine ${file} ${partition.node}: ${text}`).toBe('a92b4efc');
      const uuid = fields['Array UUID']!;
      const array = arrays.get(uuid) ?? {
        level: fields['Raid Level']!,
        name: fields['Name']!,
        devices: fields['Raid Devices']!,
        members: [],
      };
      array.members.push({ file, partition, dataOffsetBytes: dataOffsetBytes(fields) });
      arrays.set(uuid, array);
    }
  }
  const list = [...arrays.values()];
  expect(list.map((a) => [a.level, a.devices, a.members.length]).sort()).toEqual([
    ['raid0', '2', 2],
    ['raid1', '2', 2],
  ]);
  const root = list.find((a) => a.level === 'raid1')!;
  expect(root.name).toMatch(new RegExp(`(^|:)${rootName}\\b`));
  expect(root.members.every((m) => m.partition.startBytes === table1Start(m))).toBe(true);
  const summary = list
    .map(
      (a) =>
        `${a.name} ${a.level} on ${a.members.map((m) => `${m.file.split('/').pop()}@${m.partition.startBytes / 2 ** 20} MiB (data +${m.dataOffsetBytes / 2 ** 20} MiB)`).join(' + ')}`,
    )
    .join('; ');
  return { root: root.members, partitions, summary };
}

/** The RAID-1 root is each disk's first partition (it is partitioned first, at 1 MiB on MBR). */
function table1Start(member: RaidMember): number {
  return partitionsOf(member.file).partitions[0]!.startBytes;
}

/** Each RAID-1 member holds the image at partition start + data offset. */
export function expectRootMirrorsImage(root: readonly RaidMember[], image: { sizeBytes: number; sha256: string }): string {
  for (const member of root) {
    const bytes = readAt(member.file, member.partition.startBytes + member.dataOffsetBytes, image.sizeBytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(sha256, `image bytes on ${member.file} at ${member.partition.startBytes + member.dataOffsetBytes}`).toBe(image.sha256);
  }
  return `both RAID-1 members hold the image (sha256 ${image.sha256.slice(0, 12)}…) at partition start + data offset`;
}

/** No partition table and no md superblock where the members were. */
export function expectNoRaidLeft(files: readonly string[], before: Map<string, DiskPartition[]>): string {
  for (const file of files) {
    expect(partitionsOf(file).partitions, `partitions left on ${file}`).toEqual([]);
    for (const partition of before.get(file) ?? []) {
      expect(mdMagicAt(file, partition.startBytes), `md superblock left on ${file} at ${partition.startBytes}`).toBe(false);
    }
  }
  return `no partition table and no md superblock left on ${files.length} disks`;
}
