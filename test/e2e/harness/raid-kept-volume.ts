/**
 * The kept-volume part of the software RAID scenario (`skip_block_devices`
 * `[{"volume_name": "kept"}]`), read and written on the VM's raw disk files from the host:
 * which partitions hold which named array (mdadm --examine on a copy, md-check.ts), a marker
 * written into the kept volume's data on each member as an operator's data.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { expect } from 'vitest';
import { dataOffsetBytes, type DiskPartition, examinePartition, partitionsOf, readAt } from './md-check.js';
import { RAID_DISKS } from './raid-scenario.js';

const physical_disks = RAID_DISKS.map((d) => ({ serial: d.serial }));
/** The scenario's config with volume names (a name on the skip list needs names on all). */
export const NAMED_RAID_CONFIG = {
  logical_disks: [
    { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true, volume_name: 'root', physical_disks },
    { size_gb: 'MAX', raid_level: '0', controller: 'software', volume_name: 'kept', physical_disks },
  ],
};
export const KEEP = { skip_block_devices: [{ volume_name: 'kept' }] };

export interface NamedMember {
  file: string;
  partition: DiskPartition;
  volume: string;
  arrayUuid: string;
  dataOffsetBytes: number;
}

function disk(file: string): string {
  return file.split('/').pop()!;
}

/** Every md member on the disk files, by the volume name its superblock carries. */
export function namedMembers(files: readonly string[]): Map<string, NamedMember[]> {
  const byName = new Map<string, NamedMember[]>();
  for (const file of files) {
    for (const partition of partitionsOf(file).partitions) {
      const { fields } = examinePartition(file, partition);
      if (fields['Magic'] !== 'a92b4efc') continue;
      const volume = fields['Name']!.replace(/^[^:]*:/, '').split(' ')[0]!;
      const member = { file, partition, volume, arrayUuid: fields['Array UUID']!, dataOffsetBytes: dataOffsetBytes(fields) };
      byName.set(volume, [...(byName.get(volume) ?? []), member]);
    }
  }
  return byName;
}

/** Writes a marker of random bytes at each member's data offset; returns what was written. */
export function writeMarkers(members: readonly NamedMember[]): Map<string, Buffer> {
  const markers = new Map<string, Buffer>();
  for (const member of members) {
    const marker = Buffer.concat([Buffer.from(`kept volume data on ${disk(member.file)}\n`), randomBytes(4000)]);
    const fd = openSync(member.file, 'r+');
    try {
      writeSync(fd, marker, 0, marker.length, member.partition.startBytes + member.dataOffsetBytes);
    } finally {
      closeSync(fd);
    }
    markers.set(member.file, marker);
  }
  return markers;
}

/**
 * The kept volume as it was: each member still a partition at the same place, its superblock
 * naming the same array, the marker at its data offset.
 */
export function expectKeptVolume(files: readonly string[], before: readonly NamedMember[], markers: Map<string, Buffer>): string {
  const now = namedMembers(files).get('kept') ?? [];
  for (const member of before) {
    const found = now.find((m) => m.file === member.file);
    expect(found, `kept member on ${disk(member.file)}: partitions ${JSON.stringify(partitionsOf(member.file))}`).toBeDefined();
    expect(found!.partition.startBytes).toBe(member.partition.startBytes);
    expect(found!.arrayUuid).toBe(member.arrayUuid);
    const marker = markers.get(member.file)!;
    expect(
      readAt(member.file, member.partition.startBytes + member.dataOffsetBytes, marker.length).equals(marker),
      `marker on ${disk(member.file)}`,
    ).toBe(true);
  }
  return `kept RAID-0 intact: ${before.map((m) => `${disk(m.file)}@${m.partition.startBytes / 2 ** 20} MiB`).join(' + ')}, array ${before[0]!.arrayUuid}, markers in place`;
}
