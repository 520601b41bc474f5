/**
 * Virtual media as Ironic makes them, on the test's own loop devices: a vfat "floppy"
 * (images.create_vfat_image: mkfs.vfat -n ir-vfd-dev) and an ISO (mkisofs -r -V <label>),
 * plus a media search that sees only those devices, never this machine's.
 *
 * The agent mounts media to read them, as IPA does. A kernel without vfat or iso9660 (this
 * project's CI runs on one) cannot mount those, so media meant to be mounted are made with
 * ext4 there, with the same label and files (`mkfs.ext4 -d`): the agent mounts them the
 * same way, by label, read-only. Finding real vfat and ISO media by label needs no mount.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MediaSearch } from '../../src/agent/config/vmedia/find-media.js';
import type { ScratchDevice, ScratchDevices } from './loop-devices.js';

export function canMakeVirtualMedia(): boolean {
  try {
    for (const tool of ['mkfs.vfat', 'mcopy', 'genisoimage', 'mkfs.ext4']) execFileSync('which', [tool], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether this kernel mounts `filesystem` (loading its module if it has one). */
function kernelMounts(filesystem: 'vfat' | 'iso9660'): boolean {
  try {
    execFileSync('modprobe', ['-q', filesystem === 'iso9660' ? 'isofs' : filesystem], { stdio: 'ignore' });
  } catch {
    // built in, or not available: /proc/filesystems says which
  }
  return readFileSync('/proc/filesystems', 'utf8')
    .split('\n')
    .some((line) => line.trim().split(/\s+/).at(-1) === filesystem);
}

export interface MediaSpec {
  format: 'vfat' | 'iso9660';
  label: string;
  /** Relative path → contents. */
  files: Record<string, string>;
  /** Make that format even when this kernel cannot mount it (for finding by label only). */
  exactFormat?: boolean;
}

export interface Media extends ScratchDevice {
  /** What the device holds: the format asked for, or ext4 where the kernel cannot mount it. */
  filesystem: 'vfat' | 'iso9660' | 'ext4';
}

function fileTree(devices: ScratchDevices, files: Record<string, string>): string {
  const tree = mkdtempSync(join(devices.dir, 'media-tree-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  return tree;
}

/** A loop device holding `spec.files` under `spec.label`, as Ironic's media hold them. */
export function makeMedia(devices: ScratchDevices, spec: MediaSpec): Media {
  const tree = fileTree(devices, spec.files);
  const filesystem = spec.exactFormat || kernelMounts(spec.format) ? spec.format : 'ext4';
  if (filesystem === 'iso9660') {
    const iso = join(devices.dir, `${spec.label}.iso`);
    execFileSync('genisoimage', ['-quiet', '-r', '-V', spec.label, '-o', iso, tree]);
    const device = devices.create({ sizeMiB: Math.ceil(statSync(iso).size / 2 ** 20) });
    execFileSync('dd', [`if=${iso}`, `of=${device.path}`, 'bs=64K', 'conv=fsync', 'status=none']);
    return { ...device, filesystem };
  }
  const device = devices.create({ sizeMiB: filesystem === 'vfat' ? 1 : 4 });
  if (filesystem === 'vfat') {
    execFileSync('mkfs.vfat', ['-n', spec.label, device.path], { stdio: 'ignore' });
    for (const name of Object.keys(spec.files)) {
      if (name.includes('/')) throw new Error('the floppy holds files at its root only');
      execFileSync('mcopy', ['-i', device.path, join(tree, name), `::${name}`]);
    }
  } else {
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', spec.label, '-d', tree, device.path], { stdio: 'ignore' });
  }
  return { ...device, filesystem };
}

/**
 * A search that finds only `links` (label → device) through a by-label folder of its own,
 * asks blkid about `blkidDevices` only (none unless given), sees no sysfs models, and takes
 * `accepted` as virtual media (lsblk calls a loop device TYPE=loop, which IPA's check refuses).
 */
export function testMediaSearch(
  dir: string,
  links: Record<string, string>,
  accepted: readonly string[],
  blkidDevices: readonly string[] = [],
): MediaSearch {
  const byLabelDir = mkdtempSync(join(dir, 'by-label-'));
  for (const [label, device] of Object.entries(links)) symlinkSync(device, join(byLabelDir, label));
  return {
    byLabelDir,
    blkidDevices,
    sysBlockDir: mkdtempSync(join(dir, 'sys-class-block-')),
    isVirtualMedia: async (device) => accepted.includes(device),
  };
}

/** Whether `device` is mounted anywhere now. */
export function isMounted(device: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[0] === device);
}

export const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
