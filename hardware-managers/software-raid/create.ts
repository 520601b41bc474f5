/**
 * create_configuration / apply_configuration: validate, choose holders, plan every
 * partition and array, check the plan against the disks and the device guard, and only
 * then write: partition tables, then `mdadm --create` per array. Any failure after the
 * first write rolls back what this run made (arrays stopped, their superblocks zeroed, the
 * new partition tables wiped), so a failed create leaves no half-made array behind.
 * The initial resync is left to the kernel; the step reports where it stands.
 */
import { access } from 'node:fs/promises';
import {
  describeError,
  isIpaError,
  nodeBootMode,
  partitionTableType,
  ramdiskBootMode,
  rescanPartitions,
  skipListVolumeNames,
  SoftwareRAIDError,
  type StepContext,
} from '../../src/hardware/index.js';
import { listArrays, loadMdModules, mdDevicesInUse } from './arrays.js';
import { assertNoPartitions, assertNotHeld, candidateDisks, placeLogicalDisks } from './holders.js';
import { MIN_MEMBERS, planArrays, type PlannedArray } from './mdadm-plan.js';
import { readMdstat } from './mdstat.js';
import { planPartitions, type DiskLayout, type HolderDisk } from './partition-plan.js';
import { assertKeptVolumesAssembled, existingLogicalDisks } from './kept-volumes.js';
import { RaidProgress } from './progress.js';
import {
  orderForPartitioning,
  validateIronicRaidConfig,
  validateSoftwareRaidConfig,
  wantsSoftwareRaid,
  type LogicalDisk,
  type RaidConfig,
} from './raid-config.js';
import { recordCreatedArrays } from './root-volume.js';

interface CreatePlan {
  layouts: DiskLayout[];
  arrays: PlannedArray[];
  /** Logical disks whose array exists: kept (skip_block_devices volume_name) or wiped beside a kept one. */
  kept: LogicalDisk[];
}

async function planCreate(ctx: StepContext, config: RaidConfig): Promise<CreatePlan> {
  const skip = skipListVolumeNames(ctx.node);
  const candidates = await candidateDisks(ctx);
  validateSoftwareRaidConfig(config, ctx.node, candidates.length, skip);

  let disks = candidates;
  let kept: LogicalDisk[] = [];
  const existing = skip.length > 0 ? await listArrays(ctx) : [];
  if (skip.length > 0) {
    const disksAndPartitions = candidates.map((d) => ({ path: d.path, partitions: d.partitions.map((p) => p.path) }));
    await assertKeptVolumesAssembled(ctx, disksAndPartitions, existing, skip);
  }
  if (existing.length > 0) {
    kept = existingLogicalDisks(config.logical_disks, existing, skip);
    const busy = new Set(existing.flatMap((a) => a.holderDisks));
    disks = candidates.filter((d) => !busy.has(d.path));
  }
  const ordered = orderForPartitioning(config.logical_disks.filter((d) => !kept.includes(d)));
  const placed = placeLogicalDisks(disks, ordered);
  placed.forEach(({ logicalDisk, holders }, index) => {
    const needed = MIN_MEMBERS[logicalDisk.raid_level] ?? 2;
    if (holders.length < needed) {
      throw new SoftwareRAIDError(
        `RAID-${logicalDisk.raid_level} (logical disk ${index}${logicalDisk.volume_name ? ` "${logicalDisk.volume_name}"` : ''}) needs at least ${needed} disks, ` +
          `found ${holders.length}${holders.length > 0 ? ` (${holders.join(', ')})` : ''}`,
      );
    }
  });
  const holderPaths = [...new Set(placed.flatMap((p) => p.holders))];
  assertNotHeld(candidates.filter((d) => holderPaths.includes(d.path)));
  await assertNoPartitions(ctx, holderPaths);
  for (const path of holderPaths) await ctx.guard.assertWritable(path);

  const holders = new Map<string, HolderDisk>(
    candidates.filter((d) => holderPaths.includes(d.path)).map((d) => [d.path, d] as const),
  );
  const bootMode = nodeBootMode(ctx.node, await ramdiskBootMode());
  const table = partitionTableType(ctx.node, bootMode);
  const layouts = planPartitions(placed, holders, table, bootMode);
  const taken = await mdDevicesInUse();
  ctx.log.info({ bootMode, table, holders: holderPaths }, 'software RAID plan');
  return { layouts, arrays: planArrays(placed, layouts, taken), kept };
}

async function waitForNodes(nodes: readonly string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const node of nodes)
      if (
        !(await access(node).then(
          () => true,
          () => false,
        ))
      )
        missing.push(node);
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new SoftwareRAIDError(`Partition device nodes ${missing.join(', ')} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function addMissingMembers(ctx: StepContext, array: PlannedArray, detail: string): Promise<void> {
  const present = new Set(
    detail
      .split('\n')
      .filter((l) => /^MD_DEVICE_.+_DEV=/.test(l))
      .map((l) => l.split('=')[1]!.trim()),
  );
  for (const member of array.members.filter((m) => !present.has(m))) {
    ctx.log.warn({ device: member, array: array.device }, 'member missing from the new array; re-adding');
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await ctx.exec('mdadm', ['--add', array.device, member]);
        lastError = undefined;
        break;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    if (lastError) throw new SoftwareRAIDError(`Failed re-add ${member} to ${array.device}: ${describeError(lastError)}`);
  }
}

/** Undo this run's writes, newest first; returns what could not be undone. */
async function rollBack(ctx: StepContext, arrays: readonly PlannedArray[], disks: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, file: string, args: string[]) => {
    await ctx.exec(file, args).catch((error: unknown) => problems.push(`${what}: ${describeError(error)}`));
  };
  for (const array of [...arrays].reverse()) {
    await attempt(`stopping ${array.device}`, 'mdadm', ['--stop', array.device]);
    for (const member of array.members) {
      await attempt(`zeroing the superblock of ${member}`, 'mdadm', ['--zero-superblock', member]);
    }
  }
  for (const disk of disks) {
    await attempt(`wiping the partition table of ${disk}`, 'wipefs', ['--all', '--force', disk]);
    await rescanPartitions(ctx.exec, disk, true).catch((error: unknown) =>
      problems.push(`re-reading ${disk}: ${describeError(error)}`),
    );
  }
  return problems;
}

async function executeCreate(ctx: StepContext, plan: CreatePlan, progress: RaidProgress): Promise<PlannedArray[]> {
  for (const array of plan.arrays) progress.device(array.device, 'planned', `RAID-${array.raidLevel} ${array.volumeName}`);
  const partitioned: string[] = [];
  const created: PlannedArray[] = [];
  try {
    progress.stage('partitioning');
    for (const layout of plan.layouts) {
      partitioned.push(layout.disk);
      await ctx.exec(layout.command.file, layout.command.args, layout.command.input ? { input: layout.command.input } : {});
      await rescanPartitions(ctx.exec, layout.disk, true);
    }
    const members = plan.layouts.flatMap((l) => l.partitions.map((p) => p.node));
    await waitForNodes(members);
    for (const member of members) await ctx.guard.assertWritable(member);

    progress.stage('creating arrays');
    for (const array of plan.arrays) {
      await ctx.exec('mdadm', array.argv).catch((error: unknown) => {
        throw new SoftwareRAIDError(
          `Failed to create md device ${array.device} on ${array.members.join(' ')}: ${describeError(error)}`,
        );
      });
      created.push(array);
      const { stdout } = await ctx.exec('mdadm', ['--detail', '--export', array.device], { quiet: true });
      await addMissingMembers(ctx, array, stdout);
      progress.device(array.device, 'created', `RAID-${array.raidLevel} ${array.volumeName}`);
    }
  } catch (error) {
    progress.stage('rolling back');
    const problems = await rollBack(ctx, created, partitioned);
    const reason = isIpaError(error) ? error.details : describeError(error);
    const undone =
      partitioned.length === 0
        ? 'nothing was written'
        : `rolled back: ${created.length > 0 ? `stopped ${created.map((a) => a.device).join(', ')}, ` : ''}wiped the new partition tables of ${partitioned.join(', ')}`;
    throw new SoftwareRAIDError(
      `${reason} (${undone}${problems.length > 0 ? `; roll-back problems: ${problems.join('; ')}` : ''})`,
      { cause: error },
    );
  }
  progress.stage('done (the initial resync continues in the background)');
  progress.arrays(await readMdstat());
  return created;
}

/** What apply_configuration checks before deleting anything (IPA validates first too). */
export async function validateRaidConfig(ctx: StepContext, config: unknown): Promise<void> {
  if (isEmpty(config) || !asksForSoftwareRaid(config)) return;
  validateIronicRaidConfig(config);
  const disks = await candidateDisks(ctx);
  validateSoftwareRaidConfig(config, ctx.node, disks.length, skipListVolumeNames(ctx.node));
}

function isEmpty(config: unknown): boolean {
  return config === undefined || config === null || (typeof config === 'object' && Object.keys(config).length === 0);
}

/** False only when the logical disks are readable and none says `controller: software`. */
function asksForSoftwareRaid(config: unknown): boolean {
  const disks = (config as { logical_disks?: unknown }).logical_disks;
  return !(Array.isArray(disks) && disks.length > 0 && !wantsSoftwareRaid(config as RaidConfig));
}

/**
 * The whole step. Returns the config as given (Ironic stores it as `node.raid_config`), `{}`
 * when there is nothing to do or no logical disk asks for software RAID (IPA's behaviour).
 */
export async function createConfiguration(ctx: StepContext, config: unknown, step: string): Promise<unknown> {
  if (isEmpty(config)) {
    ctx.log.info('no RAID configuration: nothing to create');
    return {};
  }
  if (!asksForSoftwareRaid(config)) {
    ctx.log.info('no logical disk with controller "software": left to hardware RAID');
    return {};
  }
  validateIronicRaidConfig(config);
  await loadMdModules(ctx);
  const progress = new RaidProgress(ctx.progress, step);
  const plan = await planCreate(ctx, config);
  const created = await executeCreate(ctx, plan, progress);
  recordCreatedArrays(created);
  ctx.log.info({ arrays: created.map((a) => `${a.device} (${a.volumeName}, RAID-${a.raidLevel})`) }, 'software RAID created');
  return config;
}
