/**
 * The kept-volume part of the software RAID scenario (`skip_block_devices`
 * `[{"volume_name": "kept"}]`), read and written on the VM's raw disk files from the host:
 * which partitions hold which named array (mdadm --examine on a copy, md-check.ts), a marker
 * written into the kept volume's data on each member as an operator's data, and one member's
 * superblock given another array UUID while the VM is off, so that mdadm cannot start the kept
 * RAID-0 although both members name it.
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

/** A 1.2 superblock: 4 KiB into the member (Super Offset : 8 sectors). */
const SUPERBLOCK = { offset: 4096, length: 4096 };

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

/** md v1 superblock checksum (mdadm's calc_sb_1_csum): 32-bit words summed, the carry folded in. */
function superblockChecksum(sb: Buffer): number {
  const size = 256 + sb.readUInt32LE(220) * 2;
  let sum = 0n;
  for (let at = 0; at + 4 <= size; at += 4) sum += at === 216 ? 0n : BigInt(sb.readUInt32LE(at));
  if (size % 4 === 2) sum += BigInt(sb.readUInt16LE(size - 2));
  return Number(((sum & 0xffffffffn) + (sum >> 32n)) & 0xffffffffn);
}

/**
 * Gives one member's superblock another array UUID (checksum made right) while the VM is
 * off: mdadm sees two RAID-0 arrays named "kept" of one member each and can start neither,
 * while each member's superblock still names the volume. Returns how to put it back.
 */
export function divertSuperblock(member: NamedMember): () => void {
  const at = member.partition.startBytes + SUPERBLOCK.offset;
  const saved = readAt(member.file, at, SUPERBLOCK.length);
  expect(saved.readUInt32LE(0), `md magic on ${disk(member.file)}`).toBe(0xa92b4efc);
  const put = (bytes: Buffer) => {
    const fd = openSync(member.file, 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, at);
    } finally {
      closeSync(fd);
    }
  };
  const diverted = Buffer.from(saved);
  for (let i = 16; i < 32; i++) diverted[i] = diverted[i]! ^ 0xff; // set_uuid
  diverted.writeUInt32LE(superblockChecksum(diverted), 216);
  put(diverted);
  return () => put(saved);
}
