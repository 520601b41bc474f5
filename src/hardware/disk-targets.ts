/**
 * Which whole devices destructive steps (erase, image write) may consider, and why the
 * others are left alone.
 *
 * In a ramdisk (the machine being provisioned) every real disk is a candidate, while
 * ramdisk media never is: loop, ram, zram, rom and floppy devices. Outside a ramdisk (a
 * developer's machine, CI) only what the operator allow-listed is a candidate, including
 * loop devices and plain files standing in for disks; every other device is reported as
 * skipped. The node's `properties.skip_block_devices` hints remove further disks.
 */
import { stat } from 'node:fs/promises';
import {
  describeFileDevice,
  listBlockDevices,
  probeMissingSignatures,
  type BlockDevice,
  type ListBlockDevicesOptions,
} from './block-devices.js';
import type { DeviceGuard } from './device-guard.js';
import { BlockDeviceError, pythonRepr } from './errors.js';
import { findDevicesByHints, InvalidRootDeviceHint } from './root-device-hints.js';
import type { Exec, IronicNode } from './step-context.js';

/**
 * Why a whole device is left out, as data: each step decides which of these it accepts (an
 * erase step accepts all four: none is a disk it was asked to erase and could not).
 */
export type SkipKind =
  /** In a ramdisk: loop, ram, zram, optical or floppy media (the ramdisk's own), never a disk of the machine. */
  | 'ramdisk-media'
  /** Outside a ramdisk: not on the operator's allow-list, the safety layer of developer machines and CI. */
  | 'not-allow-listed'
  /** Zero size: a reader or virtual drive without a medium. */
  | 'no-medium'
  /** Matches a hint of the node's `properties.skip_block_devices`: the operator keeps it. */
  | 'skip-list';

export interface SkippedDevice {
  device: BlockDevice;
  kind: SkipKind;
  /** Human-readable, logged and reported as is. */
  reason: string;
}

export interface TargetDisks {
  targets: BlockDevice[];
  skipped: SkippedDevice[];
}

export interface ListTargetDisksOptions extends ListBlockDevicesOptions {
  /** Apply `node.properties.skip_block_devices` (root-device-hint dicts). */
  node?: IronicNode;
  /** An already made listing, to avoid a second lsblk call. */
  listing?: readonly BlockDevice[];
}

/** Whole-device types that are disks a machine could be installed on or erased. */
const DISK_TYPES = /^(disk|mpath|raid\d*|md)$/;

/** Media a ramdisk boots from or keeps in memory: never an erase or install target there. */
export function ramdiskMediaReason(device: BlockDevice): string | undefined {
  if (device.type === 'rom' || /^sr\d/.test(device.name)) return 'optical/ROM device';
  if (device.type === 'loop' || /^loop\d/.test(device.name)) return 'loop device (ramdisk or image media)';
  if (/^z?ram\d/.test(device.name)) return 'RAM-backed device (ram/zram)';
  if (/^fd\d/.test(device.name)) return 'floppy device';
  return undefined;
}

/**
 * The candidate whole devices, and every whole device left out with the reason. Partitions
 * and stacked devices (lvm, crypt, ...) are neither: they are not disks.
 */
export async function listTargetDisks(
  exec: Exec,
  guard: DeviceGuard,
  options: ListTargetDisksOptions = {},
): Promise<TargetDisks> {
  // Signatures (labels, RAID membership) matter only for the candidates: probed below.
  const listing = options.listing ?? (await listBlockDevices(exec, { ...options, probeSignatures: false }));
  const inRamdisk = await guard.inRamdisk();
  const targets: BlockDevice[] = [];
  const skipped: SkippedDevice[] = [];

  // Asked for every whole device at once (each a realpath and a sysfs lookup), used in order.
  const allowListed = await Promise.all(listing.map((d) => (d.parent === null ? guard.isAllowListed(d.path) : false)));
  for (const [index, device] of listing.entries()) {
    if (device.parent !== null) continue;
    const media = ramdiskMediaReason(device);
    if (inRamdisk && media) {
      // Even allow-listed: in a ramdisk these hold the running system or its media.
      skipped.push({ device, kind: 'ramdisk-media', reason: media });
      continue;
    }
    if (allowListed[index]) {
      targets.push(device);
      continue;
    }
    const isDisk = DISK_TYPES.test(device.type);
    if (!isDisk && !media) continue;
    if (!inRamdisk) {
      skipped.push({
        device,
        kind: 'not-allow-listed',
        reason: 'not in the allow-list (outside a ramdisk only allow-listed devices are touched)',
      });
    } else if (device.sizeBytes === 0) {
      skipped.push({ device, kind: 'no-medium', reason: 'zero-size device (no medium)' });
    } else {
      targets.push(device);
    }
  }

  // Plain files on the allow-list stand in for disks.
  for (const entry of guard.allowList) {
    const info = await stat(entry).catch(() => undefined);
    if (info?.isFile()) targets.push(await describeFileDevice(entry));
  }

  await probeMissingSignatures(exec, targets, options.udevRoot);
  return applySkipList({ targets, skipped }, options.node);
}

/** IPA's `get_skip_list_from_node_for_disks`: hint dicts in `properties.skip_block_devices`. */
export function skipListHints(node: IronicNode | undefined): Record<string, unknown>[] {
  const list = node?.properties?.skip_block_devices;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (entry): entry is Record<string, unknown> =>
      typeof entry === 'object' && entry !== null && !Array.isArray(entry) && !('volume_name' in entry),
  );
}

/** RAID volume names to keep, from `{"volume_name": ...}` entries of the skip list. */
export function skipListVolumeNames(node: IronicNode | undefined): string[] {
  const list = node?.properties?.skip_block_devices;
  if (!Array.isArray(list)) return [];
  return list
    .map((entry) => (typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).volume_name : undefined))
    .filter((name): name is string => typeof name === 'string' && name.length > 0);
}

/**
 * Moves targets matched by a skip-list hint into `skipped`. An invalid hint throws: erasing
 * a disk the operator meant to protect is worse than failing the step.
 */
export function applySkipList(disks: TargetDisks, node: IronicNode | undefined): TargetDisks {
  const hints = skipListHints(node);
  if (hints.length === 0) return disks;
  const reasons = new Map<BlockDevice, string>();
  for (const hint of hints) {
    let matched: BlockDevice[];
    try {
      matched = findDevicesByHints(disks.targets, hint);
    } catch (error) {
      if (!(error instanceof InvalidRootDeviceHint)) throw error;
      throw new BlockDeviceError(`Invalid skip_block_devices entry ${pythonRepr(hint)}: ${error.message}`);
    }
    for (const device of matched) {
      if (!reasons.has(device)) reasons.set(device, `matches skip_block_devices hint ${pythonRepr(hint)}`);
    }
  }
  return {
    targets: disks.targets.filter((d) => !reasons.has(d)),
    skipped: [...disks.skipped, ...[...reasons].map(([device, reason]) => ({ device, kind: 'skip-list' as const, reason }))],
  };
}
