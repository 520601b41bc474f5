/**
 * Real images for the image-writer tests, built with the real tools: a GPT disk with an
 * EFI system partition (FAT, with \EFI\BOOT\BOOTX64.EFI) and an ext4 root holding random
 * data; the same as MBR; qcow2 copies made by qemu-img; and a config drive ISO9660
 * labelled config-2 as Ironic builds it (gzip + base64).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readBytes } from '../../helpers/file-bytes.js';

const MIB = 1024 * 1024;
const SECTOR = 512;

function run(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sparseFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

function placeAt(target: string, source: string, offsetBytes: number): void {
  run('dd', [`if=${source}`, `of=${target}`, 'bs=1M', `seek=${offsetBytes}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none']);
}

export interface TestImage {
  path: string;
  sizeBytes: number;
  label: 'gpt' | 'dos';
  /** Byte ranges that hold partition data (everything but the partition-table sectors). */
  dataStart: number;
  dataEnd: number;
  sha256: string;
}

function filesystems(dir: string, espBytes: number, rootBytes: number): { esp: string; root: string } {
  const esp = join(dir, 'esp.fat');
  sparseFile(esp, espBytes);
  run('mkfs.vfat', ['-n', 'EFI', esp]);
  run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT']);
  const loader = join(dir, 'BOOTX64.EFI');
  writeFileSync(loader, Buffer.concat([Buffer.from('MZ'), randomBytes(64 * 1024)]));
  run('mcopy', ['-i', esp, loader, '::/EFI/BOOT/BOOTX64.EFI']);
  const rootDir = join(dir, 'rootfs');
  mkdirSync(join(rootDir, 'etc'), { recursive: true });
  writeFileSync(join(rootDir, 'etc', 'hostname'), 'imaged\n');
  writeFileSync(join(rootDir, 'payload.bin'), randomBytes(Math.floor(rootBytes / 3)));
  const root = join(dir, 'root.ext4');
  sparseFile(root, rootBytes);
  run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', rootDir, root]);
  return { esp, root };
}

export function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A built GPT disk image: its data lies between the primary and the backup GPT. */
function gptImage(path: string, sizeMiB: number): TestImage {
  return {
    path,
    sizeBytes: sizeMiB * MIB,
    label: 'gpt',
    dataStart: 34 * SECTOR,
    dataEnd: sizeMiB * MIB - 33 * SECTOR,
    sha256: sha256Of(path),
  };
}

/** GPT: 1 MiB gap, ESP (8 MiB), ext4 root filling the rest. */
export function buildGptImage(dir: string, sizeMiB = 24): TestImage {
  const path = join(dir, 'disk-gpt.raw');
  sparseFile(path, sizeMiB * MIB);
  run('sgdisk', ['-o', '-n', '1:2048:+8M', '-t', '1:ef00', '-c', '1:EFI', '-n', '2:0:0', '-t', '2:8300', '-c', '2:root', path]);
  const rootStart = 2048 * SECTOR + 8 * MIB;
  const rootBytes = sizeMiB * MIB - rootStart - 34 * SECTOR;
  const fs = filesystems(dir, 8 * MIB, Math.floor(rootBytes / 4096) * 4096);
  placeAt(path, fs.esp, 2048 * SECTOR);
  placeAt(path, fs.root, rootStart);
  return gptImage(path, sizeMiB);
}

/**
 * Random data under a GPT: as a qcow2 every cluster holds data, so its file ends with data
 * qemu-img needs (a qcow2 of a mostly empty disk ends with clusters it may never read).
 */
export function buildRandomGptImage(dir: string, sizeMiB = 10): TestImage {
  const path = join(dir, 'random-gpt.raw');
  writeFileSync(path, randomBytes(sizeMiB * MIB));
  run('sgdisk', ['-o', '-n', '1:0:0', '-t', '1:8300', path]);
  return gptImage(path, sizeMiB);
}

/**
 * A large, mostly empty disk under a GPT: 1 MiB of random data at each of `dataAtMiB`, holes
 * between. Its qcow2 is small, but spans several of the windows the writer converts it in.
 */
export function buildSparseGptImage(dir: string, sizeMiB: number, dataAtMiB: readonly number[]): TestImage {
  const path = join(dir, 'sparse-gpt.raw');
  sparseFile(path, sizeMiB * MIB);
  run('sgdisk', ['-o', '-n', '1:0:0', '-t', '1:8300', path]);
  const fd = openSync(path, 'r+');
  try {
    for (const at of dataAtMiB) writeSync(fd, randomBytes(MIB), 0, MIB, at * MIB);
  } finally {
    closeSync(fd);
  }
  return gptImage(path, sizeMiB);
}

/** sha256 of a byte range of a file or device, read a piece at a time (ranges of GiBs). */
export function sha256OfRange(path: string, start: number, end: number): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(8 * MIB);
  try {
    for (let at = start; at < end;) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, end - at), at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** MBR: ESP (type ef) and a Linux root; no backup table to move, so the bytes stay as written. */
export function buildMbrImage(dir: string, sizeMiB = 24, withEsp = true): TestImage {
  const path = join(dir, withEsp ? 'disk-mbr.raw' : 'disk-mbr-noesp.raw');
  sparseFile(path, sizeMiB * MIB);
  const layout = withEsp ? 'label: dos\nlabel-id: 0x1a2b3c4d\n,8M,ef\n,,83\n' : 'label: dos\nlabel-id: 0x5e6f7a8b\n,,83\n';
  execFileSync('sfdisk', ['-q', path], { input: layout });
  const rootStart = withEsp ? 2048 * SECTOR + 8 * MIB : 2048 * SECTOR;
  const fs = filesystems(dir, 8 * MIB, Math.floor((sizeMiB * MIB - rootStart) / 4096) * 4096);
  if (withEsp) placeAt(path, fs.esp, 2048 * SECTOR);
  placeAt(path, fs.root, rootStart);
  return { path, sizeBytes: sizeMiB * MIB, label: 'dos', dataStart: 0, dataEnd: sizeMiB * MIB, sha256: sha256Of(path) };
}

/**
 * `qemu-img convert` to qcow2; `options` (`-o`) name its layout: with `extended_l2=on` the
 * image writer does not decode it as it streams, and converts it with qemu-img.
 */
export function toQcow2(raw: string, options?: string): string {
  const out = raw.replace(/\.raw$/, '') + (options ? `.${options.replace(/\W+/g, '-')}` : '') + '.qcow2';
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...(options ? ['-o', options] : []), raw, out]);
  return out;
}

/** Options that send a qcow2 the qemu-img way (the streaming decoder does not read subclusters). */
export const CONVERTED_NOT_STREAMED = 'extended_l2=on';

/** What `qemu-img convert` makes of a qcow2: the reference for the device's bytes. */
export function qcow2ToRaw(qcow2: string): string {
  const out = qcow2.replace(/\.qcow2$/, '') + '.converted.raw';
  run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, out]);
  return out;
}

/** A config drive as Ironic sends it: ISO9660 labelled config-2, gzipped, base64. */
export function buildConfigDrive(dir: string, uuid = '7d2ddb42-1a1b-4a7b-9d8b-0c9d2d4b5a11'): { base64: string; iso: Buffer } {
  const tree = join(dir, 'configdrive', 'openstack', 'latest');
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(tree, 'meta_data.json'), JSON.stringify({ uuid, hostname: 'imaged', name: 'imaged' }));
  writeFileSync(join(tree, 'user_data'), '#cloud-config\n');
  const isoPath = join(dir, 'configdrive.iso');
  run('genisoimage', [
    '-quiet',
    '-o',
    isoPath,
    '-ldots',
    '-allow-lowercase',
    '-allow-multidot',
    '-l',
    '-J',
    '-r',
    '-V',
    'config-2',
    join(dir, 'configdrive'),
  ]);
  const iso = readFileSync(isoPath);
  return { base64: gzipSync(iso).toString('base64'), iso };
}

/** Bytes [start, end) of a device or file. */
export function readRange(path: string, start: number, end: number): Buffer {
  return readBytes(path, start, end - start);
}
