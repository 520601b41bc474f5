/**
 * qcow2 images for the streaming decoder's tests, made by qemu-img and qemu-io from a raw
 * disk of random data with holes, in every layout the decoder must handle or hand back, and
 * one qemu-img never makes: its L2 table after the data it maps, built here byte by byte
 * (and checked by `qemu-img check`).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const KIB = 1024;
const MIB = 1024 * KIB;

export function run(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A raw disk of `bytes` under an MBR (which write_image leaves as it is, unlike a GPT whose
 * backup it moves): random data in pieces, holes between them, some data compressible.
 */
export function holeyRawDisk(dir: string, name: string, bytes: number): string {
  const path = join(dir, `${name}.raw`);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, Buffer.alloc(1), 0, 1, bytes - 1);
    const piece = Math.max(4 * KIB, Math.floor(bytes / 40));
    for (let at = 0, i = 0; at < bytes; at += piece, i++) {
      if (i % 3 === 1) continue; // a hole
      const length = Math.min(piece - (i % 2) * 1536, bytes - at);
      const data = randomBytes(length);
      if (i % 4 === 0) data.fill(0x61, 0, Math.floor(length / 2)); // compresses well
      writeSync(fd, data, 0, length, at);
    }
  } finally {
    closeSync(fd);
  }
  execFileSync('sfdisk', ['-q', path], { input: 'label: dos\n,,83\n', stdio: ['pipe', 'ignore', 'pipe'] });
  return path;
}

/** `qemu-img convert` of `raw` to qcow2 with these options (`-o`), `-c` when `compress`. */
export function qcow2Of(raw: string, name: string, options: string, compress = false): string {
  const out = raw.replace(/[^/]*$/, `${name}.qcow2`);
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...(compress ? ['-c'] : []), '-o', options, raw, out]);
  return out;
}

/** What qemu-img reads from a qcow2: the reference bytes, [0, virtual size). */
export function qemuReads(qcow2: string): Buffer {
  const out = `${qcow2}.reference.raw`;
  run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, out]);
  return readFileSync(out);
}

export function qemuIo(qcow2: string, ...commands: string[]): void {
  run('qemu-io', ['-f', 'qcow2', ...commands.flatMap((c) => ['-c', c]), qcow2]);
}

/** Sets bits in the v3 header's incompatible features (byte 72), as a crash or a bug would leave them. */
export function setIncompatibleBits(qcow2: string, bits: bigint): void {
  const fd = openSync(qcow2, 'r+');
  try {
    const header = Buffer.alloc(8);
    const current = readFileSync(qcow2).readBigUInt64BE(72);
    header.writeBigUInt64BE(current | bits);
    writeSync(fd, header, 0, 8, 72);
  } finally {
    closeSync(fd);
  }
}

/**
 * A valid v3 qcow2 (64 KiB clusters, one L2 table) whose L2 table comes after all of the
 * `dataClusters` random data clusters it maps (guest cluster i at host cluster 4 + i, every
 * fifth guest cluster a hole): header, refcount table, refcount block, L1, data, L2.
 */
export function l2AfterDataQcow2(dir: string, name: string, dataClusters: number): string {
  const cluster = 64 * KIB;
  if (dataClusters + 5 > cluster / 2) throw new Error('one refcount block covers 32768 clusters');
  const l2Cluster = 4 + dataClusters;
  const virtualSize = dataClusters * cluster + 3 * 512; // not a whole cluster
  const file = Buffer.alloc((l2Cluster + 1) * cluster);
  const header = file.subarray(0, cluster);
  header.write('QFI\xfb', 0, 'latin1');
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(16, 20); // cluster_bits
  header.writeBigUInt64BE(BigInt(virtualSize), 24);
  header.writeUInt32BE(1, 36); // l1_size
  header.writeBigUInt64BE(BigInt(3 * cluster), 40); // l1_table_offset
  header.writeBigUInt64BE(BigInt(1 * cluster), 48); // refcount_table_offset
  header.writeUInt32BE(1, 56); // refcount_table_clusters
  header.writeUInt32BE(4, 96); // refcount_order: 16-bit refcounts
  header.writeUInt32BE(104, 100); // header_length; the extension area ends at once (zeros)
  const copied = 1n << 63n;
  file.writeBigUInt64BE(BigInt(2 * cluster), 1 * cluster); // refcount table -> block
  const used = (host: number) => file.writeUInt16BE(1, 2 * cluster + host * 2);
  for (const host of [0, 1, 2, 3, l2Cluster]) used(host);
  file.writeBigUInt64BE(BigInt(l2Cluster * cluster) | copied, 3 * cluster); // L1 -> L2
  const guestClusters = Math.ceil(virtualSize / cluster);
  for (let g = 0; g < guestClusters; g++) {
    const host = 4 + g;
    if (host >= l2Cluster) continue;
    randomBytes(cluster).copy(file, host * cluster);
    if (g === 0) mbr(virtualSize).copy(file, host * cluster);
    if (g % 5 === 2) continue; // unallocated (its host cluster free): reads as zeros
    used(host);
    file.writeBigUInt64BE(BigInt(host * cluster) | copied, l2Cluster * cluster + g * 8);
  }
  const path = join(dir, `${name}.qcow2`);
  writeFileSync(path, file);
  run('qemu-img', ['check', '-f', 'qcow2', path]);
  return path;
}

/** An MBR with one Linux partition from 1 MiB to the disk's end (write_image wants partitions). */
function mbr(diskBytes: number): Buffer {
  const sector = Buffer.alloc(512);
  sector.writeUInt32LE(0x5eed1234, 440);
  sector[446 + 4] = 0x83;
  sector.writeUInt32LE(2048, 446 + 8);
  sector.writeUInt32LE(Math.floor(diskBytes / 512) - 2048, 446 + 12);
  sector.writeUInt16LE(0xaa55, 510);
  return sector;
}

export const SIZES = { KIB, MIB };
