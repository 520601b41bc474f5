/**
 * delete_configuration (IPA's `delete_configuration` / `_delete_config_pass`): assemble what
 * the disks describe, then for every array: wipe its signatures, stop it, zero its
 * members' superblocks; zero any superblock still left on a disk or partition; wipe the
 * partition tables of the disks that held arrays. Disks that held none are not touched.
 * Two passes; an array left after them fails the step.
 *
 * Kept volumes (`skip_block_devices` `{"volume_name": ...}`), as IPA: a named array is
 * kept untouched, other arrays on its disks are only wiped (data gone, array kept, since
 * their partitions share the disks), and only the deleted arrays' partitions are removed
 * from such disks. Unlike IPA, a device whose own superblock names a kept volume is never
 * zeroed and its disk never wiped, also when its array did not assemble (kept-volumes.ts).
 *
 * Every device is checked with the device guard before the first write: a mounted array
 * or member fails the step with nothing changed. Arrays on disks this agent may not touch
 * at all (outside a ramdisk: not allow-listed) are left alone and reported, and outside a
 * ramdisk nothing is assembled from such disks (assemble.ts).
 */
import {
  describeError,
  examineDevice,
  listBlockDevices,
  listTargetDisks,
  ProtectedDeviceError,
  pythonRepr,
  rescanPartitions,
  skipListVolumeNames,
  SoftwareRAIDError,
  type ExaminedSuperblock,
  type StepContext,
} from '../../src/hardware/index.js';
import { assembleDescribedArrays } from './assemble.js';
import { listArrays, loadMdModules, type ExistingArray } from './arrays.js';
import { diskOfPartition, RAID_DEVICE_TYPE } from './holders.js';
import { decideArrays, planSweep, volumeNames, type SweptDisk } from './kept-volumes.js';
import { RaidProgress } from './progress.js';
import { forgetCreatedArrays } from './root-volume.js';

export interface DeleteReport {
  deleted: string[];
  wiped: string[];
  kept: string[];
  /** Devices left untouched because their superblock names a kept volume whose array did not assemble. */
  kept_members: string[];
  /** Kept volume names found nowhere: no array and no member superblock carries them. */
  kept_not_found: string[];
  holders_wiped: string[];
  superblocks_zeroed: string[];
  left_alone: { device: string; reason: string }[];
}

/** The md superblock of every disk and partition the sweep may touch, by device. */
async function examineAll(ctx: StepContext, disks: readonly SweptDisk[]): Promise<Map<string, ExaminedSuperblock>> {
  const found = new Map<string, ExaminedSuperblock>();
  for (const disk of disks) {
    for (const device of [...disk.partitions, disk.path]) {
      const superblock = await examineDevice(ctx, device);
      if (superblock) found.set(device, superblock);
    }
  }
  return found;
}

async function checkAll(ctx: StepContext, devices: readonly string[]): Promise<{ notAllowed: string[] }> {
  const notAllowed: string[] = [];
  for (const device of devices) {
    const verdict = await ctx.guard.check(device);
    if (verdict.writable) continue;
    if (verdict.refusal === 'not-allowed') notAllowed.push(device);
    else if (verdict.refusal !== 'missing') throw new ProtectedDeviceError(device, verdict.reason ?? 'refused');
  }
  return { notAllowed };
}

async function onePass(
  ctx: StepContext,
  arrays: readonly ExistingArray[],
  report: DeleteReport,
  progress: RaidProgress,
  seen: Set<string>,
) {
  const skip = skipListVolumeNames(ctx.node);
  const decisions = decideArrays(arrays, skip);
  const protectedDevices = new Set<string>();
  const removePartitions = new Map<string, string[]>();
  const holders: string[] = [];

  for (const array of arrays) {
    const decision = decisions.get(array.device)!;
    holders.push(...array.holderDisks);
    if (decision !== 'delete') {
      for (const c of [...array.components, ...array.holderDisks]) protectedDevices.add(c);
      if (decision === 'wipe') {
        ctx.log.warn({ device: array.device }, 'software RAID shares disks with a kept volume: wiped, not deleted');
        await ctx.exec('wipefs', ['--all', '--force', array.device]).catch(() => undefined);
        if (!report.wiped.includes(array.device)) report.wiped.push(array.device);
      } else {
        ctx.log.warn({ device: array.device, volume: array.volumeName }, 'software RAID volume kept (skip_block_devices)');
        if (!report.kept.includes(array.device)) report.kept.push(array.device);
      }
      progress.device(array.device, decision === 'wipe' ? 'wiped, kept' : 'kept', array.level ?? 'md');
      continue;
    }
    progress.device(array.device, 'deleting', array.level ?? 'md');
    await ctx
      .exec('wipefs', ['--all', '--force', array.device])
      .catch((e: unknown) => ctx.log.warn({ err: describeError(e) }, 'wipefs failed'));
    await ctx
      .exec('mdadm', ['--stop', array.device])
      .catch((e: unknown) => ctx.log.warn({ err: describeError(e) }, 'mdadm --stop failed'));
    for (const component of array.components) {
      const superblock = await examineDevice(ctx, component);
      if (!superblock) continue;
      // A member of a deleted array naming a kept volume (a stale member, an array assembled
      // under another name) is the kept volume's, not this array's.
      if (superblock.volumeName !== null && skip.includes(superblock.volumeName)) continue;
      await ctx.exec('mdadm', ['--zero-superblock', component]);
      report.superblocks_zeroed.push(component);
      const number = /(\d+)$/.exec(component)?.[1];
      const disk = diskOfPartition(component, array.holderDisks);
      if (disk && number) removePartitions.set(disk, [...(removePartitions.get(disk) ?? []), number]);
    }
    report.deleted.push(array.device);
    progress.device(array.device, 'deleted', array.level ?? 'md', 100);
  }

  // Members of arrays that were never assembled still carry superblocks: zeroed, partitions
  // first, then disks (zeroing a disk's superblock can fail while a partition's is still
  // there), unless they are a kept volume's (kept-volumes.ts: never, assembled or not).
  const { targets } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const disks: SweptDisk[] = targets
    .filter((d) => d.type !== 'file' && !RAID_DEVICE_TYPE.test(d.type))
    .map((d) => ({ path: d.path, partitions: d.partitions.map((p) => p.path) }));
  const superblocks = await examineAll(ctx, disks);
  const sweep = planSweep(disks, superblocks, protectedDevices, skip);
  for (const [device, volume] of sweep.keptMembers) {
    if (protectedDevices.has(device) || report.kept_members.includes(device)) continue;
    ctx.log.warn({ device, volume }, 'member of a kept software RAID volume that is not assembled: left untouched');
    report.kept_members.push(device);
  }
  for (const name of volumeNames(arrays, superblocks)) seen.add(name);
  for (const device of sweep.zero) {
    await ctx.guard.assertWritable(device);
    await ctx
      .exec('mdadm', ['--zero-superblock', device])
      .catch((e: unknown) => ctx.log.warn({ device, err: describeError(e) }, 'zeroing a left-over superblock failed'));
    report.superblocks_zeroed.push(device);
  }

  for (const disk of [...new Set(holders)]) {
    if (sweep.keptDisks.has(disk) || protectedDevices.has(disk)) {
      const numbers = removePartitions.get(disk) ?? [];
      if (numbers.length > 0)
        await ctx.exec('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', '--delete', disk, ...numbers]);
    } else {
      await ctx.exec('wipefs', ['--all', '--force', disk]);
      if (!report.holders_wiped.includes(disk)) report.holders_wiped.push(disk);
    }
    await rescanPartitions(ctx.exec, disk, true).catch((e: unknown) =>
      ctx.log.warn({ disk, err: describeError(e) }, 'partition re-read failed'),
    );
  }
  return decisions;
}

export async function deleteConfiguration(ctx: StepContext, step: string): Promise<DeleteReport> {
  const progress = new RaidProgress(ctx.progress, step);
  const report: DeleteReport = {
    deleted: [],
    wiped: [],
    kept: [],
    kept_members: [],
    kept_not_found: [],
    holders_wiped: [],
    superblocks_zeroed: [],
    left_alone: [],
  };
  await loadMdModules(ctx);
  // Arrays the disks describe but nobody assembled are deleted too (IPA: --assemble --scan).
  await assembleDescribedArrays(ctx);

  const scan = async (): Promise<ExistingArray[]> => {
    const arrays = await listArrays(ctx, await listBlockDevices(ctx.exec));
    const ours: ExistingArray[] = [];
    for (const array of arrays) {
      const { notAllowed } = await checkAll(ctx, [array.device, ...array.components, ...array.holderDisks]);
      if (notAllowed.length > 0) {
        const reason = `not in the allow-list: ${notAllowed.join(', ')}`;
        if (!report.left_alone.some((l) => l.device === array.device)) report.left_alone.push({ device: array.device, reason });
        continue;
      }
      ours.push(array);
    }
    return ours;
  };

  progress.stage('deleting');
  const seen = new Set<string>();
  let arrays = await scan();
  // The first pass runs even when nothing assembled, as IPA's: its sweep clears the
  // superblocks of arrays that could not assemble (and leaves a kept volume's alone).
  for (let pass = 0; pass < 2 && (pass === 0 || arrays.length > 0); pass++) {
    const decisions = await onePass(ctx, arrays, report, progress, seen);
    arrays = (await scan()).filter((a) => (decisions.get(a.device) ?? 'delete') === 'delete');
  }
  if (arrays.length > 0) {
    throw new SoftwareRAIDError(`Unable to clean all softraid correctly. Remaining ${pythonRepr(arrays.map((a) => a.device))}`);
  }
  for (const name of skipListVolumeNames(ctx.node).filter((n) => !seen.has(n))) {
    // IPA goes on without a word. Nothing here carries the name, so nothing of it was lost.
    ctx.log.warn({ volume: name }, 'software RAID volume on the skip list not found: no array or member carries its name');
    report.kept_not_found.push(name);
  }
  forgetCreatedArrays();
  progress.stage('done');
  return report;
}
