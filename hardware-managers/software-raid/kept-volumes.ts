/**
 * Volumes kept by the node's `skip_block_devices` (`{"volume_name": ...}`): which existing
 * arrays are kept, wiped or deleted (IPA master's `_handle_raid_skip_list`), and which of
 * them create_configuration finds existing (IPA master's `_create_raid_ignore_list`).
 */
import { SoftwareRAIDError } from '../../src/hardware/index.js';
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
