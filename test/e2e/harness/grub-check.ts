/**
 * What a BIOS deploy of the grub image (grub-image.ts) onto a software RAID root must leave,
 * read from the disk files: on every holder disk, grub's boot code in the MBR (boot.img's code,
 * the partition table kept) pointing at grub's core image (diskboot.img's code), embedded in
 * the gap before the first partition on MBR, in the BIOS boot partition on GPT; and inside the
 * image's root filesystem on the md root, the grub.cfg grub-mkconfig wrote and the i386-pc
 * modules grub-install copied (read with debugfs from a copy of the filesystem). And each
 * holder alone boots: a second, throw-away QEMU (SeaBIOS, no network, the disk file read-only
 * without taking its lock, as the machine still runs) reaches grub's command line, which it
 * only prints on the serial port once it has read grub.cfg from the degraded RAID-1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { GrubImage } from './grub-image.js';
import { type DiskPartition, partitionsOf, readAt } from './md-check.js';
import type { RaidMember } from './raid-scenario.js';

const GRUB_DIR = '/usr/lib/grub/i386-pc';
/** boot.img's code after the fields grub-bios-setup patches (kernel sector, boot drive, drive check) and before the partition table. */
const BOOT_CODE = [0x68, 0x1b8] as const;
const KERNEL_SECTOR_OFFSET = 0x5c;
const BIOS_BOOT_TYPE = '21686148-6449-6e6f-744e-656564454649';

function debugfs(fsFile: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, fsFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * grub's boot code in the MBR of `file` (boot.img's code, the partition table kept) pointing
 * at its core image (diskboot.img's code): at `biosBootStartBytes` when given (GPT's BIOS boot
 * partition), else in the gap before the first partition. Returns the core image's sector.
 */
export function checkGrubBootCode(file: string, firstPartitionSector: number, biosBootStartBytes?: number): number {
  const name = file.split('/').pop();
  const mbr = readAt(file, 0, 512);
  const bootImg = readFileSync(join(GRUB_DIR, 'boot.img'));
  expect(mbr.subarray(...BOOT_CODE).equals(bootImg.subarray(...BOOT_CODE)), `grub boot code in the MBR of ${name}`).toBe(true);
  expect(mbr.readUInt16LE(510), `MBR signature of ${name}`).toBe(0xaa55);
  const coreSector = Number(mbr.readBigUInt64LE(KERNEL_SECTOR_OFFSET));
  expect(coreSector, `core image sector of ${name}`).toBeGreaterThan(0);
  if (biosBootStartBytes === undefined) {
    expect(coreSector, `core image of ${name} in the gap before the first partition`).toBeLessThan(firstPartitionSector);
  } else {
    expect(coreSector * 512, `core image of ${name} in its BIOS boot partition`).toBe(biosBootStartBytes);
  }
  const core = readAt(file, coreSector * 512, 512);
  const diskboot = readFileSync(join(GRUB_DIR, 'diskboot.img'));
  expect(core.subarray(0, 0x100).equals(diskboot.subarray(0, 0x100)), `grub core image at sector ${coreSector} of ${name}`).toBe(
    true,
  );
  return coreSector;
}

/** Every holder boots grub from its own MBR; the partition table there is the one create_configuration wrote. */
export function checkGrubOnHolders(holders: readonly string[], tablesBefore: Map<string, DiskPartition[]>): string[] {
  return holders.map((file) => {
    const name = file.split('/').pop();
    const firstPartition = Math.min(...(tablesBefore.get(file) ?? []).map((p) => p.startBytes / 512));
    // A GPT holder has no gap before its first partition for grub: the core image goes into
    // the 2 MiB BIOS boot partition install_bootloader made (bios-boot-part-<n>).
    const table = partitionsOf(file);
    let biosBootStart: number | undefined;
    let where = `in the gap before the first partition (sector ${firstPartition})`;
    if (table.label === 'gpt') {
      const biosBoot = table.partitions.filter((p) => p.name?.startsWith('bios-boot-part-'));
      expect(biosBoot, `BIOS boot partition on ${name}: ${JSON.stringify(table)}`).toHaveLength(1);
      expect(biosBoot[0]!.type.toLowerCase()).toBe(BIOS_BOOT_TYPE);
      expect(biosBoot[0]!.sizeBytes).toBe(2 * 1024 * 1024);
      biosBootStart = biosBoot[0]!.startBytes;
      where = `in BIOS boot partition ${biosBoot[0]!.node.split('/').pop()} "${biosBoot[0]!.name}"`;
    }
    const coreSector = checkGrubBootCode(file, firstPartition, biosBootStart);
    return `${name}: grub boot code in the MBR, core image at sector ${coreSector} ${where}`;
  });
}

/** The image's root filesystem on the md root holds grub.cfg and grub's modules. */
export function checkGrubInRoot(member: RaidMember, image: GrubImage): string {
  const dir = mkdtempSync(join(tmpdir(), 'grub-root-'));
  const copy = join(dir, 'root.ext4');
  try {
    const bytes = readAt(
      member.file,
      member.partition.startBytes + member.dataOffsetBytes + image.root.startBytes,
      image.root.sizeBytes,
    );
    const fd = openSync(copy, 'w');
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    const uuid = execFileSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', copy], { encoding: 'utf8' }).trim();
    expect(uuid, 'the image root filesystem on the md root').toBe(image.root.uuid);
    const cfg = debugfs(copy, 'cat /boot/grub/grub.cfg');
    expect(cfg, 'grub.cfg written by grub-mkconfig').toContain('### BEGIN /etc/grub.d/00_header ###');
    const modules = debugfs(copy, 'ls /boot/grub/i386-pc');
    for (const file of ['core.img', 'normal.mod', 'mdraid1x.mod']) expect(modules, `/boot/grub/i386-pc/${file}`).toContain(file);
    return `the image root (ext4 ${uuid}) on the md root has /boot/grub/grub.cfg (${cfg.length} bytes) and grub's i386-pc modules`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Boots SeaBIOS from one disk file, read-only; resolves with the serial output once grub's prompt shows. */
export async function bootGrubFrom(disk: string, serialLog: string, timeoutMs = 120_000): Promise<string> {
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-machine', 'q35', '-accel', 'tcg', '-m', '128', '-nodefaults', '-display', 'none', '-boot', 'c',
      '-serial', `file:${serialLog}`,
      '-drive', `file=${disk},format=raw,if=none,id=holder,readonly=on,file.locking=off`,
      '-device', 'virtio-blk-pci,drive=holder',
    ], // prettier-ignore
    { stdio: 'ignore' },
  );
  const kill = () => qemu.kill('SIGKILL');
  process.once('exit', kill);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const output = existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '';
      if (/grub> ?/.test(output)) return output;
      if (qemu.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `grub's prompt did not show booting ${disk} (QEMU exit ${qemu.exitCode}); serial output:\n${output.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    kill();
    process.removeListener('exit', kill);
  }
}
