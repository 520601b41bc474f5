/**
 * qcow2's two-level cluster map (qemu's docs/interop/qcow2.txt, "Cluster mapping"): the L1
 * table names the L2 tables, each L2 entry says where one guest cluster's bytes are. Entries
 * are read as qemu reads them (qcow2_get_cluster_type): the compressed flag first, then the
 * "reads as zeros" flag, then offset 0 for unallocated; reserved bits are ignored, an offset
 * off a cluster boundary is corruption (qemu marks the image corrupt and fails the read).
 */
import type { Qcow2Header } from './qcow2-header.js';

/** Where guest bytes come from: host bytes as they are, a deflated cluster, or nothing (zeros). */
export type Qcow2Mapping =
  | { kind: 'data'; host: number; guest: number; length: number }
  | { kind: 'compressed'; host: number; length: number; guest: number }
  | { kind: 'zero'; guest: number; length: number };

/** The image's tables say something qemu would refuse to read. */
export class Qcow2CorruptError extends Error {}

const OFFSET_HIGH_MASK = 0x00ffffff; // bits 32-55 of an L1/L2 entry
const OFFSET_LOW_MASK = 0xfffffe00; // bits 9-31
const COMPRESSED = 0x40000000; // bit 62, in the high word
const READS_AS_ZERO = 1;
const COMPRESSED_SECTOR = 512;

/** Host offset of each L2 table that maps [0, virtualSize): 0 where the L1 entry is unallocated. */
export function l2TableOffsets(l1: Buffer, header: Qcow2Header): number[] {
  const offsets: number[] = [];
  for (let index = 0; index < header.l1Entries; index++) {
    const offset =
      (l1.readUInt32BE(index * 8) & OFFSET_HIGH_MASK) * 2 ** 32 + ((l1.readUInt32BE(index * 8 + 4) & OFFSET_LOW_MASK) >>> 0);
    if (offset % header.clusterSize !== 0) {
      throw new Qcow2CorruptError(`L1 entry ${index} names an L2 table at ${offset}, not a cluster boundary`);
    }
    offsets.push(offset);
  }
  return offsets;
}

/**
 * The mappings of one L2 table (the `l1Index`th), in guest order: neighbouring data clusters
 * that are also neighbours in the file are one mapping, as are neighbouring zero clusters.
 * Nothing at or beyond the virtual size is mapped.
 */
export function decodeL2Table(table: Buffer, l1Index: number, header: Qcow2Header, emit: (mapping: Qcow2Mapping) => void): void {
  const { clusterSize, clusterBits, virtualSize } = header;
  const base = l1Index * header.l2Reach;
  const entries = Math.min(clusterSize / 8, Math.ceil((virtualSize - base) / clusterSize));
  const sizeShift = BigInt(62 - (clusterBits - 8));
  const offsetMask = (1n << sizeShift) - 1n;
  const sectorsMask = (1n << BigInt(clusterBits - 8)) - 1n;
  let run: Qcow2Mapping | undefined;
  const flush = () => {
    if (run) emit(run);
    run = undefined;
  };
  for (let index = 0; index < entries; index++) {
    const guest = base + index * clusterSize;
    const length = Math.min(clusterSize, virtualSize - guest);
    const high = table.readUInt32BE(index * 8);
    const low = table.readUInt32BE(index * 8 + 4);
    if (high & COMPRESSED) {
      const descriptor = ((BigInt(high) << 32n) | BigInt(low)) & ((1n << 62n) - 1n);
      const host = Number(descriptor & offsetMask);
      const sectors = Number((descriptor >> sizeShift) & sectorsMask) + 1;
      flush();
      emit({ kind: 'compressed', host, length: sectors * COMPRESSED_SECTOR - (host % COMPRESSED_SECTOR), guest });
      continue;
    }
    const host = (high & OFFSET_HIGH_MASK) * 2 ** 32 + ((low & OFFSET_LOW_MASK) >>> 0);
    if (low & READS_AS_ZERO || host === 0) {
      if (run?.kind === 'zero') run.length += length;
      else {
        flush();
        run = { kind: 'zero', guest, length };
      }
      continue;
    }
    if (host % clusterSize !== 0) {
      throw new Qcow2CorruptError(`the L2 entry of guest offset ${guest} names data at ${host}, not a cluster boundary`);
    }
    if (run?.kind === 'data' && run.host + run.length === host) run.length += length;
    else {
      flush();
      run = { kind: 'data', host, guest, length };
    }
  }
  flush();
}
