/**
 * Volumes kept by the node's `skip_block_devices` (`{"volume_name": ...}`): which existing
 * arrays are kept, wiped or deleted (IPA master's `_handle_raid_skip_list`), which of them
 * create_configuration finds existing (IPA master's `_create_raid_ignore_list`), and which
 * member devices carry a kept volume's superblock although its array is not assembled.
 *
 * The last is where we differ from IPA. IPA decides from the assembled arrays only, and
 * its sweep of left-over superblocks then zeroes every member of a kept volume that did not
 * assemble (a RAID-0 or RAID-5 with a disk missing or late, a member mdadm refused), and
 * wipes the partition tables of disks it shares with a deleted array: the volume the
 * operator asked to keep is gone. Here a device whose own superblock (`mdadm --examine`)
 * names a kept volume is never zeroed, nor its disk wiped, whether or not its array
 * assembled.
 */
import { examineDevice, SoftwareRAIDError, type ExaminedSuperblock, type StepContext } from '../../src/hardware/index.js';
import type { ExistingArray } from './arrays.js';
import type { LogicalDisk } from './raid-config.js';

export type Decision = 'delete' | 'wipe' | 'keep';

/** IPA's `_handle_raid_skip_list`: keep the named arrays, only wipe their disk neighbours. */
export function decideArrays(arrays: readonly ExistingArray[], skip: readonly string[]): Map<string, Decision> {
  const decisions = new Map<string, Decision>(arrays.map((a) => [a.device, 'delete']));
  for (const array of arrays) {
    if (!array.volumeName || !skip.includes(array.volumeName)) continue;
    decisions.set(array.device, 'keep');
    for (const neighbour of arrays) {
      if (neighbour === array || decisions.get(neighbour.device) !== 'delete') continue;
      if (neighbour.holderDisks.some((d) => array.holderDisks.includes(d))) decisions.set(neighbour.device, 'wipe');
    }
  }
  // The ESP array on a kept array's disks stays, so that the kept root can still boot.
  for (const array of arrays) {
    if (array.volumeName === 'esp' && decisions.get(array.device) === 'wipe') decisions.set(array.device, 'keep');
  }
  return decisions;
}

const SHOULD_NOT_EXIST = 'Existing Software RAID device detected that should not';

/**
 * IPA master's `_create_raid_ignore_list`, with volume names on the skip list: the existing
 * arrays are judged as delete_configuration judges them (kept, wiped or deleted). A logical
 * disk whose volume name a kept array carries, or an array delete_configuration only wiped
 * because it shares disks with a kept one, exists already and is not created again; an
 * unnamed array, an array no logical disk names (a kept ESP aside) or one that should have
 * been deleted is an error. So delete_configuration then create_configuration, the cleaning
 * Ironic runs, keeps the named volume and reuses its wiped neighbours. Disks holding an
 * existing array are not used for new ones (IPA would re-label them, kept volume and all).
 */
export function existingLogicalDisks(
  disks: readonly LogicalDisk[],
  existing: readonly ExistingArray[],
  skip: readonly string[],
): LogicalDisk[] {
  if (existing.some((a) => !a.volumeName)) {
    throw new SoftwareRAIDError(
      "A Software RAID device detected that does not have a volume name. This is not allowed because there is a volume_name hint in the property 'skip_block_devices'.",
    );
  }
  const decisions = decideArrays(existing, skip);
  const unclaimed = [...existing];
  const found: LogicalDisk[] = [];
  for (const disk of disks) {
    const index = unclaimed.findIndex((a) => a.volumeName === disk.volume_name);
    if (index < 0) continue;
    const array = unclaimed[index]!;
    if (!skip.includes(array.volumeName!) && decisions.get(array.device) !== 'wipe')
      throw new SoftwareRAIDError(SHOULD_NOT_EXIST);
    unclaimed.splice(index, 1);
    found.push(disk);
  }
  // The ESP kept beside a kept volume stays for the bootloader (IPA removes it from its list).
  const esp = unclaimed.findIndex((a) => a.volumeName === 'esp' && decisions.get(a.device) === 'keep');
  if (esp >= 0) unclaimed.splice(esp, 1);
  if (unclaimed.length > 0) throw new SoftwareRAIDError(SHOULD_NOT_EXIST);
  return found;
}

/** A disk and its partitions, as the sweep walks them. */
export interface SweptDisk {
  path: string;
  partitions: readonly string[];
}

export interface SweepPlan {
  /** Devices whose left-over superblock is zeroed, partitions before their disk. */
  zero: string[];
  /** Devices left alone because their superblock names a kept volume, with that name. */
  keptMembers: Map<string, string>;
  /** Disks whose partition table must stay: they hold a kept or wiped array's member. */
  keptDisks: Set<string>;
}

/**
 * Which left-over superblocks the sweep zeroes (IPA's walk over every disk and partition,
 * partitions first): not a member of an array kept or wiped this pass (`protectedDevices`),
 * not a disk holding one, and never a device whose superblock names a kept volume.
 * `superblocks` holds every device of `disks` that has one.
 */
export function planSweep(
  disks: readonly SweptDisk[],
  superblocks: ReadonlyMap<string, ExaminedSuperblock>,
  protectedDevices: ReadonlySet<string>,
  skip: readonly string[],
): SweepPlan {
  const keptMembers = new Map<string, string>();
  for (const [device, superblock] of superblocks) {
    if (superblock.volumeName !== null && skip.includes(superblock.volumeName)) keptMembers.set(device, superblock.volumeName);
  }
  const keptDisks = new Set<string>();
  const zero: string[] = [];
  for (const disk of disks) {
    const devices = [...disk.partitions, disk.path];
    if (devices.some((d) => protectedDevices.has(d) || keptMembers.has(d))) keptDisks.add(disk.path);
    for (const device of [...disk.partitions].reverse()) {
      if (protectedDevices.has(device) || keptMembers.has(device) || !superblocks.has(device)) continue;
      zero.push(device);
    }
    if (!keptDisks.has(disk.path) && superblocks.has(disk.path)) zero.push(disk.path);
  }
  return { zero, keptMembers, keptDisks };
}

/** The volume names the arrays and the examined superblocks carry. */
export function volumeNames(arrays: readonly ExistingArray[], superblocks: ReadonlyMap<string, ExaminedSuperblock>): string[] {
  return [...arrays.map((a) => a.volumeName), ...[...superblocks.values()].map((s) => s.volumeName)].filter(
    (name): name is string => name !== null,
  );
}

/**
 * Before create_configuration: a kept volume whose members carry its superblock but whose
 * array is not assembled cannot be kept by building around it (its disks are partitioned)
 * and must not be built again over it. IPA would fail on the partitions, or re-label the
 * disks when another volume is kept; here the step fails naming the volume and its members.
 */
export async function assertKeptVolumesAssembled(
  ctx: Pick<StepContext, 'exec'>,
  disks: readonly SweptDisk[],
  existing: readonly ExistingArray[],
  skip: readonly string[],
): Promise<void> {
  const assembled = new Set(existing.map((a) => a.volumeName));
  const stranded = new Map<string, string[]>();
  for (const disk of disks) {
    for (const device of [...disk.partitions, disk.path]) {
      const name = (await examineDevice(ctx, device))?.volumeName;
      if (!name || !skip.includes(name) || assembled.has(name)) continue;
      stranded.set(name, [...(stranded.get(name) ?? []), device]);
    }
  }
  if (stranded.size === 0) return;
  const list = [...stranded].map(([name, devices]) => `${name} (members ${devices.join(', ')})`).join(', ');
  throw new SoftwareRAIDError(
    `Software RAID volumes on the skip list are not assembled: ${list}. Assemble or repair them, or take them off skip_block_devices, before creating the RAID configuration`,
  );
}
