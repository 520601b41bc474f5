/**
 * Partition images as Glance holds them for Ironic's partition deploys: one ext4 file system
 * (no partition table) holding a marker file, made with `mkfs.ext4 -d` into a sparse file,
 * and its qcow2 made by qemu-img.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageInfo } from './harness.js';
import { sha256Of } from './test-images.js';

const MIB = 1024 * 1024;

export interface PartitionImage {
  raw: { path: string; sha256: string };
  qcow2: { path: string; sha256: string };
  /** What `/marker` in the file system holds. */
  marker: string;
  sizeBytes: number;
}

export function buildPartitionImage(dir: string, name: string, marker: string, sizeMiB = 48): PartitionImage {
  const tree = join(dir, `${name}-tree`);
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, 'marker'), marker);
  writeFileSync(join(tree, 'etc', 'hostname'), 'partition-imaged\n');
  const raw = join(dir, `${name}.raw`);
  const fd = openSync(raw, 'w');
  ftruncateSync(fd, sizeMiB * MIB);
  closeSync(fd);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'img-root', '-d', tree, raw], { stdio: 'ignore' });
  const qcow2 = join(dir, `${name}.qcow2`);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2], { stdio: 'ignore' });
  return {
    raw: { path: raw, sha256: sha256Of(raw) },
    qcow2: { path: qcow2, sha256: sha256Of(qcow2) },
    marker,
    sizeBytes: sizeMiB * MIB,
  };
}

/** `debugfs -R 'cat <file>'` on an ext file system: read without mounting. */
export function catInExt(device: string, file: string): string {
  return execFileSync('debugfs', ['-R', `cat ${file}`, device], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** `blkid -p` of a device as KEY=value pairs (empty when nothing is found). */
export function probe(device: string): Record<string, string> {
  let out = '';
  try {
    out = execFileSync('blkid', ['-p', '-o', 'export', device], { encoding: 'utf8' });
  } catch {
    return {};
  }
  return Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

export function sfdiskJson(device: string): any {
  return JSON.parse(execFileSync('sfdisk', ['--json', device], { encoding: 'utf8' })).partitiontable;
}

/** image_info as a stock Ironic sends it for a partition image (root_gb 1 would be 1024 MiB: smaller here, quicker). */
export function partitionImageInfo(url: string, sha256: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return imageInfo(url, sha256, {
    image_type: 'partition',
    root_mb: 64,
    swap_mb: 16,
    ephemeral_mb: 32,
    ephemeral_format: 'ext4',
    preserve_ephemeral: false,
    boot_option: 'local',
    kernel: null,
    ramdisk: null,
    ...extra,
  });
}
