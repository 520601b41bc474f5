/**
 * What a BIOS deploy of a partition image through Ironic must leave on the raw disk file, read
 * from the host without mounting anything: ironic-lib's make_partitions layout on an msdos
 * table (ephemeral, swap, config drive, then the root last with the boot flag), each
 * partition's signature where it starts (`blkid -p -O`: ext4 `ephemeral0`, swap `swap1`, the
 * config drive's iso9660 `config-2` with Ironic's meta_data.json, the image's ext4 UUID), and
 * inside the image's root filesystem (a copy of its bytes, read with debugfs) the image's own
 * files and what install_bootloader added: grub.cfg from grub-mkconfig and the i386-pc modules.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { GrubRootFs } from './grub-image.js';
import { readAt } from './md-check.js';

const MiB = 1024 * 1024;

interface TablePartition {
  node: string;
  startBytes: number;
  sizeBytes: number;
  type: string;
  bootable: boolean;
  probe: Record<string, string>;
}

export interface PartitionLayout {
  root: TablePartition;
  partitions: TablePartition[];
  lines: string[];
}

function probeAt(file: string, offset: number): Record<string, string> {
  try {
    const out = execFileSync('blkid', ['-p', '-o', 'export', '-O', String(offset), file], { encoding: 'utf8' });
    return Object.fromEntries(out.split('\n').flatMap((l) => (l.includes('=') ? [l.split(/=(.*)/s).slice(0, 2)] : [])));
  } catch {
    return {};
  }
}

/** The disk's msdos table in make_partitions' order and sizes (MiB), each partition's content probed. */
export function checkPartitionLayout(
  file: string,
  sizes: { ephemeralMiB: number; swapMiB: number; rootMiB: number },
  image: GrubRootFs,
): PartitionLayout {
  const table = JSON.parse(execFileSync('sfdisk', ['--json', file], { encoding: 'utf8' })).partitiontable as {
    label: string;
    partitions: { node: string; start: number; size: number; type: string; bootable?: boolean }[];
  };
  expect(table.label, 'an msdos table for a BIOS deploy').toBe('dos');
  const partitions = table.partitions.map((p) => ({
    node: p.node,
    startBytes: p.start * 512,
    sizeBytes: p.size * 512,
    type: p.type,
    bootable: p.bootable === true,
    probe: probeAt(file, p.start * 512),
  }));
  expect(
    partitions.map((p) => p.probe.TYPE),
    JSON.stringify(partitions),
  ).toEqual(['ext4', 'swap', 'iso9660', 'ext4']);
  const [ephemeral, swap, configDrive, root] = partitions as [TablePartition, TablePartition, TablePartition, TablePartition];
  expect(ephemeral.sizeBytes).toBe(sizes.ephemeralMiB * MiB);
  expect(ephemeral.probe.LABEL).toBe('ephemeral0');
  expect(swap.sizeBytes).toBe(sizes.swapMiB * MiB);
  expect(swap.probe.LABEL).toBe('swap1');
  expect(configDrive.probe.LABEL).toBe('config-2');
  expect(root.sizeBytes).toBe(sizes.rootMiB * MiB);
  expect(root.probe.UUID, "the image's root filesystem in the last partition").toBe(image.uuid);
  expect(partitions.map((p) => p.bootable)).toEqual([false, false, false, true]);
  const name = (p: TablePartition) => p.node.split('/').pop();
  return {
    root,
    partitions,
    lines: [
      `msdos: ${partitions.map((p) => `${name(p)} ${p.sizeBytes / MiB} MiB ${p.probe.TYPE}${p.probe.LABEL ? ` "${p.probe.LABEL}"` : ''}${p.bootable ? ' (boot)' : ''}`).join(', ')}`,
    ],
  };
}

/** The config drive partition holds the ISO Ironic built: meta_data.json with the node's uuid and the hostname given. */
export function checkConfigDrive(file: string, layout: PartitionLayout, meta: { uuid: string; hostname: string }): string {
  const drive = layout.partitions[2]!;
  const dir = mkdtempSync(join(tmpdir(), 'config-drive-'));
  try {
    const iso = join(dir, 'config-drive.iso');
    copyOut(file, drive.startBytes, drive.sizeBytes, iso);
    const json = execFileSync('isoinfo', ['-i', iso, '-R', '-x', '/openstack/latest/meta_data.json'], { encoding: 'utf8' });
    expect(JSON.parse(json), 'meta_data.json on the config drive').toMatchObject(meta);
    return `config drive ${drive.node.split('/').pop()}: openstack/latest/meta_data.json has uuid ${meta.uuid}, hostname ${meta.hostname}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function copyOut(file: string, offset: number, length: number, to: string): void {
  const fd = openSync(to, 'w');
  try {
    for (let done = 0; done < length; done += 16 * MiB) {
      writeSync(fd, readAt(file, offset + done, Math.min(16 * MiB, length - done)));
    }
  } finally {
    closeSync(fd);
  }
}

/** The image's files are in the root partition, with grub.cfg and grub's modules beside them. */
export function checkRootFilesystem(file: string, layout: PartitionLayout, image: GrubRootFs): string {
  const dir = mkdtempSync(join(tmpdir(), 'partition-root-'));
  try {
    const copy = join(dir, 'root.ext4');
    copyOut(file, layout.root.startBytes, image.sizeBytes, copy);
    const debugfs = (request: string) =>
      execFileSync('debugfs', ['-R', request, copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(debugfs('cat /etc/default/grub'), "the image's own /etc/default/grub").toContain('GRUB_TERMINAL="serial console"');
    expect(debugfs('ls /usr/sbin'), "the image's grub-install").toContain('grub-install');
    const cfg = debugfs('cat /boot/grub/grub.cfg');
    expect(cfg, 'grub.cfg written by grub-mkconfig').toContain('### BEGIN /etc/grub.d/00_header ###');
    const modules = debugfs('ls /boot/grub/i386-pc');
    for (const name of ['core.img', 'normal.mod', 'ext2.mod']) expect(modules, `/boot/grub/i386-pc/${name}`).toContain(name);
    return `root ${layout.root.node.split('/').pop()} (ext4 ${image.uuid}): the image's files, /boot/grub/grub.cfg (${cfg.length} bytes) and grub's i386-pc modules`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
