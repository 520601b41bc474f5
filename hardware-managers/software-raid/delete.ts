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
 * from such disks.
 *
 * Every device is checked with the device guard before the first write: a mounted array
 * or member fails the step with nothing changed. Arrays on disks this agent may not touch
 * at all (outside a ramdisk: not allow-listed) are left alone and reported, and outside a
 * ramdisk nothing is assembled from such disks (assemble.ts).
 */
import {
  describeError,
  listBlockDevices,
  listTargetDisks,
  ProtectedDeviceError,
  pythonRepr,
  rescanPartitions,
  skipListVolumeNames,
  SoftwareRAIDError,
  type StepContext,
} from '../../src/hardware/index.js';
import { assembleDescribedArrays } from './assemble.js';
import { examineShowsSuperblock, listArrays, loadMdModules, type ExistingArray } from './arrays.js';
import { diskOfPartition, RAID_DEVICE_TYPE } from './holders.js';
import { decideArrays } from './kept-volumes.js';
import { RaidProgress } from './progress.js';
import { forgetCreatedArrays } from './root-volume.js';

export interface DeleteReport {
  deleted: string[];
  wiped: string[];
  kept: string[];
  holders_wiped: string[];
  superblocks_zeroed: string[];
  left_alone: { device: string; reason: string }[];
}

/** `mdadm --examine` finds an md superblock on the device. */
async function hasSuperblock(ctx: StepContext, device: string): Promise<boolean> {
  const result = await ctx.exec('mdadm', ['--examine', device], { quiet: true, okExitCodes: [0, 1, 2] }).catch(() => undefined);
  return result?.exitCode === 0 && examineShowsSuperblock(result.stdout);
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

async function onePass(ctx: StepContext, arrays: readonly ExistingArray[], report: DeleteReport, progress: RaidProgress) {
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
        report.wiped.push(array.device);
      } else {
        ctx.log.warn({ device: array.device, volume: array.volumeName }, 'software RAID volume kept (skip_block_devices)');
        report.kept.push(array.device);
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
      if (!(await hasSuperblock(ctx, component))) continue;
      await ctx.exec('mdadm', ['--zero-superblock', component]);
      report.superblocks_zeroed.push(component);
      const number = /(\d+)$/.exec(component)?.[1];
      const disk = diskOfPartition(component, array.holderDisks);
      if (disk && number) removePartitions.set(disk, [...(removePartitions.get(disk) ?? []), number]);
    }
    report.deleted.push(array.device);
    progress.device(array.device, 'deleted', array.level ?? 'md', 100);
  }

  // Members of arrays that were never assembled still carry superblocks: partitions first,
  // then disks (zeroing a disk's superblock can fail while a partition's is still there).
  const { targets } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const all = targets.filter((d) => d.type !== 'file' && !RAID_DEVICE_TYPE.test(d.type));
  for (const disk of all) {
    if (protectedDevices.has(disk.path)) continue;
    for (const device of [...disk.partitions.map((p) => p.path).reverse(), disk.path]) {
      if (protectedDevices.has(device) || !(await hasSuperblock(ctx, device))) continue;
      await ctx.guard.assertWritable(device);
      await ctx
        .exec('mdadm', ['--zero-superblock', device])
        .catch((e: unknown) => ctx.log.warn({ device, err: describeError(e) }, 'zeroing a left-over superblock failed'));
      report.superblocks_zeroed.push(device);
    }
  }

  for (const disk of [...new Set(holders)]) {
    if (protectedDevices.has(disk)) {
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
  const report: DeleteReport = { deleted: [], wiped: [], kept: [], holders_wiped: [], superblocks_zeroed: [], left_alone: [] };
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
  let arrays = await scan();
  for (let pass = 0; pass < 2 && arrays.length > 0; pass++) {
    const decisions = await onePass(ctx, arrays, report, progress);
    arrays = (await scan()).filter((a) => (decisions.get(a.device) ?? 'delete') === 'delete');
  }
  if (arrays.length > 0) {
    throw new SoftwareRAIDError(`Unable to clean all softraid correctly. Remaining ${pythonRepr(arrays.map((a) => a.device))}`);
  }
  forgetCreatedArrays();
  progress.stage('done');
  return report;
}
