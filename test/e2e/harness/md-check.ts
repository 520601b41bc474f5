/**
 * Host-side checks of software RAID members on the VM's raw disk files. This machine's
 * kernel has no md driver, but `mdadm --examine` reads a superblock from a plain file: each
 * partition the guest made (from the disk's partition table, read by `sfdisk --json` on the
 * file) is copied out as a sparse file of the partition's size holding its first MiBs (a
 * 1.1/1.2 superblock and its bitmap) and its last MiB (a 1.0 superblock), and examined there. Image bytes are read straight from the
 * member at partition start + the array's data offset.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECTOR = 512;
/** Enough for a 1.1/1.2 superblock (at 0 or 4 KiB) and its bitmap at the front. */
const HEAD_BYTES = 8 * 1024 * 1024;
/** A 1.0 superblock sits 8–12 KiB before the end, its bitmap just before it. */
const TAIL_BYTES = 1024 * 1024;
/** md's v1 superblock magic, little endian on disk. */
const MD_MAGIC = 0xa92b4efc;

export interface DiskPartition {
  node: string;
  startBytes: number;
  sizeBytes: number;
  type: string;
  /** GPT only: the partition's name and unique GUID. */
  name?: string;
  uuid?: string;
}

/** The partitions of a raw disk file, [] when it carries no table. */
export function partitionsOf(file: string): { label: string | undefined; partitions: DiskPartition[] } {
  let out: string;
  try {
    out = execFileSync('sfdisk', ['--json', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return { label: undefined, partitions: [] };
  }
  const table = (JSON.parse(out) as { partitiontable: { label: string; partitions?: Record<string, unknown>[] } }).partitiontable;
  return {
    label: table.label,
    partitions: (table.partitions ?? []).map((p) => ({
      node: String(p.node),
      startBytes: Number(p.start) * SECTOR,
      sizeBytes: Number(p.size) * SECTOR,
      type: String(p.type),
      ...(typeof p.name === 'string' ? { name: p.name } : {}),
      ...(typeof p.uuid === 'string' ? { uuid: p.uuid.toLowerCase() } : {}),
    })),
  };
}

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, offset);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** `mdadm --examine` of one partition as `Key: value` pairs ({} when no superblock), and its text. */
export function examinePartition(file: string, partition: DiskPartition): { fields: Record<string, string>; text: string } {
  const dir = mkdtempSync(join(tmpdir(), 'md-check-'));
  const copy = join(dir, 'member.raw');
  try {
    execFileSync('dd', [
      `if=${file}`, `of=${copy}`, 'bs=1M', 'iflag=skip_bytes,count_bytes', `skip=${partition.startBytes}`,
      `count=${Math.min(HEAD_BYTES, partition.sizeBytes)}`, 'conv=sparse', 'status=none',
    ]); // prettier-ignore
    const tail = Math.max(HEAD_BYTES, partition.sizeBytes - TAIL_BYTES);
    if (tail < partition.sizeBytes) {
      execFileSync('dd', [
        `if=${file}`, `of=${copy}`, 'bs=1M', 'iflag=skip_bytes,count_bytes', 'oflag=seek_bytes', `skip=${partition.startBytes + tail}`,
        `seek=${tail}`, `count=${partition.sizeBytes - tail}`, 'conv=sparse,notrunc', 'status=none',
      ]); // prettier-ignore
    }
    truncateSync(copy, partition.sizeBytes);
    let text: string;
    try {
      text = execFileSync('mdadm', ['--examine', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      return { fields: {}, text: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
    }
    const fields: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$/.exec(line);
      if (m) fields[m[1]!] = m[2]!.trim();
    }
    return { fields, text };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Data offset of a member in bytes, from mdadm's "Data Offset : 2048 sectors". */
export function dataOffsetBytes(fields: Record<string, string>): number {
  const m = /^(\d+) sectors/.exec(fields['Data Offset'] ?? '');
  if (!m) throw new Error(`no data offset in mdadm --examine: ${JSON.stringify(fields)}`);
  return Number(m[1]) * SECTOR;
}

/** Whether a v1.1/1.2 md superblock magic sits at a partition's start or 4 KiB into it. */
export function mdMagicAt(file: string, partitionStart: number): boolean {
  return [0, 4096].some((offset) => {
    const bytes = readAt(file, partitionStart + offset, 4);
    return bytes.length === 4 && bytes.readUInt32LE(0) === MD_MAGIC;
  });
}
