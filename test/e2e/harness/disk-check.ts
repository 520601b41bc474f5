/**
 * Host-side checks of the VM's disk files (`-U`: the VM may still hold them), with qemu-img
 * so a sparse 4 GiB disk costs nothing: all zero after an erase (compared with an empty
 * image, whose missing tail must read zero), or the deployed image byte for byte (compare,
 * plus the sha256 of the image-sized prefix copied out with `qemu-img dd`).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';

export type DiskFormat = 'qcow2' | 'raw';

/** `qemu-img compare`: "Images are identical." or the first mismatch. */
function compare(image: string, disk: string, diskFormat: DiskFormat): { identical: boolean; output: string } {
  try {
    const output = execFileSync('qemu-img', ['compare', '-U', '-f', 'raw', '-F', diskFormat, image, disk], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { identical: true, output: output.trim().replace(/\s*\n\s*/g, ' ') };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { identical: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}

/** Whether the whole disk reads zero, with qemu-img's words. */
export function checkZero(disk: string, format: DiskFormat): { zero: boolean; output: string } {
  const empty = `${disk}.empty.raw`;
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', empty, '0']);
  try {
    const { identical, output } = compare(empty, disk, format);
    return { zero: identical, output };
  } finally {
    rmSync(empty, { force: true });
  }
}

export interface DeployedCheck {
  identical: boolean;
  compareOutput: string;
  prefixSha256: string;
}

export function checkDeployed(disk: string, format: DiskFormat, image: { file: string; sizeBytes: number }): DeployedCheck {
  const { identical, output } = compare(image.file, disk, format);
  const prefix = `${disk}.prefix.raw`;
  try {
    execFileSync('qemu-img', [
      'dd', '-U', '-f', format, '-O', 'raw', 'bs=1M', `count=${Math.ceil(image.sizeBytes / 1048576)}`, `if=${disk}`, `of=${prefix}`,
    ]); // prettier-ignore
    const bytes = readFileSync(prefix).subarray(0, image.sizeBytes);
    return { identical, compareOutput: output, prefixSha256: createHash('sha256').update(bytes).digest('hex') };
  } finally {
    rmSync(prefix, { force: true });
  }
}

/** A previous tenant's data: the first `seedMiB` of the disk random, its size unchanged. */
export function seedDisk(file: string, format: DiskFormat, seedMiB: number): void {
  const raw = format === 'raw' ? file : `${file}.seed.raw`;
  if (raw !== file) execFileSync('qemu-img', ['convert', '-f', format, '-O', 'raw', file, raw]);
  execFileSync('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', `count=${seedMiB}`, 'conv=notrunc', 'status=none']);
  if (raw !== file) {
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, raw, file]);
    rmSync(raw, { force: true });
  }
}
