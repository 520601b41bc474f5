/**
 * A whole-disk image for UEFI deploys, made on the host without mounting anything: a GPT
 * with an EFI system partition (FAT made by mkfs.vfat on a plain file, `\EFI\BOOT\BOOTX64.EFI`
 * copied in with mtools) and a Linux partition of random bytes (so "it landed" is a byte
 * check). The loader is not a real EFI program: the agent only looks for it and names it in
 * the boot entries; the machine is not booted from it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';

const MiB = 1024 * 1024;

interface ImageRegion {
  startBytes: number;
  sizeBytes: number;
  sha256: string;
}

export interface UefiImage {
  file: string;
  sizeBytes: number;
  sha256: string;
  esp: ImageRegion;
  root: ImageRegion;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export function writeUefiImage(file: string, sizeMiB = 48, espMiB = 16): UefiImage {
  const sizeBytes = sizeMiB * MiB;
  writeFileSync(file, Buffer.alloc(0));
  execFileSync('truncate', ['-s', String(sizeBytes), file]);
  execFileSync('sgdisk', [
    '--new', `1:${MiB / 512}:+${espMiB}M`, '--typecode', '1:ef00', '--change-name', '1:EFI',
    '--new', '2:0:0', '--typecode', '2:8300', '--change-name', '2:root', file,
  ], { stdio: 'ignore' }); // prettier-ignore
  const table = JSON.parse(execFileSync('sfdisk', ['--json', file], { encoding: 'utf8' })) as {
    partitiontable: { partitions: Array<{ start: number; size: number }> };
  };
  const [espPart, rootPart] = table.partitiontable.partitions;

  const espFile = `${file}.esp`;
  try {
    execFileSync('mkfs.vfat', ['-C', '-n', 'EFI', espFile, String((espPart!.size * 512) / 1024)], { stdio: 'ignore' });
    const loader = `${file}.loader`;
    writeFileSync(loader, Buffer.concat([Buffer.from('MZ'), randomBytes(4094)]));
    execFileSync('mmd', ['-i', espFile, '::/EFI', '::/EFI/BOOT']);
    execFileSync('mcopy', ['-i', espFile, loader, '::/EFI/BOOT/BOOTX64.EFI']);
    rmSync(loader);
    const esp = readFileSync(espFile);
    const root = randomBytes(rootPart!.size * 512);
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, esp, 0, esp.length, espPart!.start * 512);
      writeSync(fd, root, 0, root.length, rootPart!.start * 512);
    } finally {
      closeSync(fd);
    }
    return {
      file,
      sizeBytes,
      sha256: sha256(readFileSync(file)),
      esp: { startBytes: espPart!.start * 512, sizeBytes: esp.length, sha256: sha256(esp) },
      root: { startBytes: rootPart!.start * 512, sizeBytes: root.length, sha256: sha256(root) },
    };
  } finally {
    rmSync(espFile, { force: true });
  }
}
