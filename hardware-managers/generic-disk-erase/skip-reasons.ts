/**
 * Why an erase step leaves a device alone, as data, and which of those reasons fail the step.
 *
 * IPA erases every disk it lists and fails when one cannot be erased; it leaves a disk alone
 * only by the operator's choice (skip_block_devices, a read-only disk with
 * agent_erase_skip_read_only) or for what is not the machine's data to erase (virtual media,
 * RAID members, whose array is erased or removed by delete_configuration). A disk that is
 * mounted, in use as swap, gone, or refused by the safety guard is a disk the node would
 * leave cleaning with its data on: the step fails, naming each one and why.
 *
 * Where this differs from IPA: IPA meets such a disk while erasing (the others in the same
 * step may already be erased) and has no mount or swap check at all (shred overwrites a
 * mounted disk); here the plan knows them first and the step fails before anything is written.
 */
import { BlockDeviceEraseError, type GuardVerdict, type SkipKind } from '../../src/hardware/index.js';

export type EraseSkipKind =
  | SkipKind
  /** A BMC's virtual floppy or media (ir-vfd-dev, config drive or boot ISO label). */
  | 'virtual-media'
  /** A software RAID member: the array is erased (or delete_configuration removes it). */
  | 'raid-member'
  /** A RAID volume kept by a `volume_name` entry of skip_block_devices, or one of its members. */
  | 'kept-raid-volume'
  | 'read-only'
  | 'mounted'
  | 'swap'
  /** Listed, then gone before the guard looked at it. */
  | 'missing'
  /** Another process has it open for writing. */
  | 'busy'
  /** Any other refusal of the safety guard (neither a block device nor a regular file). */
  | 'refused-by-guard';

export interface SkippedEntry {
  device: string;
  kind: EraseSkipKind;
  reason: string;
}

/** The entry for a device the safety guard refused. */
export function guardRefusal(device: string, verdict: GuardVerdict): SkippedEntry {
  const reason = verdict.reason ?? verdict.refusal ?? 'refused';
  switch (verdict.refusal) {
    case 'read-only':
    case 'mounted':
    case 'swap':
    case 'missing':
    case 'busy':
      return { device, kind: verdict.refusal, reason };
    default:
      return { device, kind: 'refused-by-guard', reason: `refused by the safety guard: ${reason}` };
  }
}

/**
 * True when leaving the device alone is a choice (the operator's, or IPA's), not a failure.
 * `readOnlyAccepted`: IPA's erase_devices fails on a read-only disk unless
 * agent_erase_skip_read_only; its metadata and express erases (_list_erasable_devices)
 * always leave one alone.
 */
export function isAcceptedSkip(kind: EraseSkipKind, readOnlyAccepted: boolean): boolean {
  switch (kind) {
    case 'ramdisk-media':
    case 'not-allow-listed':
    case 'no-medium':
    case 'skip-list':
    case 'virtual-media':
    case 'raid-member':
    case 'kept-raid-volume':
      return true;
    case 'read-only':
      return readOnlyAccepted;
    case 'mounted':
    case 'swap':
    case 'missing':
    case 'busy':
    case 'refused-by-guard':
      return false;
  }
}

const READ_ONLY_HINT = 'set agent_erase_skip_read_only ([deploy]erase_skip_read_only) to skip it';

/** One error naming every device that should be erased and cannot be, before anything is written. */
export function refusalError(refused: readonly SkippedEntry[]): BlockDeviceEraseError {
  const each = refused.map(
    ({ device, kind, reason }) => `${device}: ${reason}${kind === 'read-only' ? `; ${READ_ONLY_HINT}` : ''}`,
  );
  return new BlockDeviceEraseError(`Cannot erase ${each.join('; ')}. Nothing was written.`);
}

/**
 * Outside a ramdisk the allow-list is what keeps a developer's disks safe, so a device off
 * it is no failure; but a step that erased nothing because nothing was allow-listed must
 * not report the node clean. Ours: IPA always runs in a ramdisk.
 */
export function nothingAllowListedError(targets: number, skipped: readonly SkippedEntry[]): BlockDeviceEraseError | undefined {
  const notAllowed = skipped.filter((entry) => entry.kind === 'not-allow-listed');
  const admitted = targets + skipped.length - notAllowed.length;
  if (admitted > 0 || notAllowed.length === 0) return undefined;
  return new BlockDeviceEraseError(
    `No device was erased: outside a ramdisk only allow-listed devices (--allow-device) are erased, and none of the ` +
      `${notAllowed.length} device(s) found is allow-listed (${notAllowed.map((entry) => entry.device).join(', ')}). ` +
      'Nothing was written.',
  );
}
