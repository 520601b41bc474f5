/**
 * Which disks hold the arrays (IPA's `get_block_devices_for_raid`): for a logical disk with
 * `physical_disks`, each hint picks the first matching disk not already picked for that
 * logical disk; without hints it spans every suitable disk. Suitable: what destructive
 * steps may touch here (`listTargetDisks`: every disk in a ramdisk, only allow-listed ones
 * elsewhere, minus the node's skip list), real block devices only (mdadm cannot use a plain
 * file) and never an md device itself.
 */
import {
  findDevicesByHints,
  InvalidRootDeviceHint,
  listTargetDisks,
  pythonRepr,
  readPartitionTable,
  SoftwareRAIDError,
  type BlockDevice,
  type StepContext,
} from '../../src/hardware/index.js';
import type { LogicalDisk } from './raid-config.js';
import type { PlacedLogicalDisk } from './partition-plan.js';

export const RAID_DEVICE_TYPE = /^(raid\d*|md)$/;

export async function candidateDisks(ctx: Pick<StepContext, 'exec' | 'guard' | 'node' | 'log'>): Promise<BlockDevice[]> {
  const { targets, skipped } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  for (const { device, reason } of skipped) ctx.log.debug({ device: device.path, reason }, 'not a software RAID holder');
  return targets.filter((d) => d.type !== 'file' && !RAID_DEVICE_TYPE.test(d.type));
}

function names(devices: readonly BlockDevice[]): string {
  return pythonRepr(devices.map((d) => d.path));
}

/** Assigns holder disks to each logical disk, in the given order. */
export function placeLogicalDisks(disks: readonly BlockDevice[], logicalDisks: readonly LogicalDisk[]): PlacedLogicalDisk[] {
  return logicalDisks.map((logicalDisk) => {
    const hints = logicalDisk.physical_disks as Record<string, unknown>[] | undefined;
    if (!hints || hints.length === 0) return { logicalDisk, holders: disks.map((d) => d.path) };
    const matching: string[] = [];
    for (const hint of hints) {
      let candidates: BlockDevice[];
      try {
        candidates = findDevicesByHints(disks, hint);
      } catch (error) {
        if (!(error instanceof InvalidRootDeviceHint)) throw error;
        throw new SoftwareRAIDError(`Invalid physical disk hint ${pythonRepr(hint)}: ${error.message}`);
      }
      if (candidates.length === 0) {
        throw new SoftwareRAIDError(`No candidates for physical disk ${pythonRepr(hint)} from the list ${names(disks)}`);
      }
      const pick = candidates.find((c) => !matching.includes(c.path));
      if (!pick) {
        throw new SoftwareRAIDError(
          `No candidates left for physical disk ${pythonRepr(hint)} from the list ${names(candidates)} after picking ${pythonRepr(matching)} for previous volumes`,
        );
      }
      matching.push(pick.path);
    }
    return { logicalDisk, holders: matching };
  });
}

/**
 * The disk of `disks` that partition `node` is on: the disk's path followed by the
 * partition number, after a `p` when the disk's name ends in a digit, as the kernel names
 * them (`/dev/sda1`, `/dev/nvme0n1p2`). Not a plain prefix: `/dev/sdaa1` starts with
 * `/dev/sda`, and `/dev/nvme0n11` (a namespace) with `/dev/nvme0n1`.
 */
export function diskOfPartition(node: string, disks: readonly string[]): string | undefined {
  return disks.find((disk) => {
    if (node.length <= disk.length || !node.startsWith(disk)) return false;
    return (/\d$/.test(disk) ? /^p\d+$/ : /^\d+$/).test(node.slice(disk.length));
  });
}

/**
 * Disks an active array or device-mapper device is built on (sysfs holders, of the disk or of
 * a partition): partitioning them under the array breaks it. IPA's create_configuration
 * expects delete_configuration to have stopped them; here that is said before anything runs.
 */
export function assertNotHeld(disks: readonly BlockDevice[]): void {
  const held = disks
    .map((disk) => ({ disk: disk.path, by: [...disk.holders, ...disk.partitions.flatMap((p) => p.holders)] }))
    .filter((d) => d.by.length > 0);
  if (held.length === 0) return;
  const list = held.map((d) => `${d.disk} (held by ${d.by.join(', ')})`).join(', ');
  throw new SoftwareRAIDError(
    `Devices ${list} are in use by an active RAID or device-mapper device: run delete_configuration first`,
  );
}

/** IPA refuses holders that already carry partitions (left behind, or someone's data). */
export async function assertNoPartitions(ctx: Pick<StepContext, 'exec'>, holders: readonly string[]): Promise<void> {
  const withParts: string[] = [];
  for (const disk of holders) {
    const table = await readPartitionTable(ctx.exec, disk).catch(() => undefined);
    if (table && table.partitions.length > 0) withParts.push(disk);
  }
  if (withParts.length > 0) {
    throw new SoftwareRAIDError(`Partitions detected on devices ${withParts.join(', ')} during RAID config`);
  }
}
