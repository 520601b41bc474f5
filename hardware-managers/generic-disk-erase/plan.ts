/**
 * Which devices an erase step touches, and why every other one is left alone. Shared
 * discovery (`listTargetDisks`) decides what counts as a disk here (allow-list outside a
 * ramdisk, never ramdisk media inside one, the node's skip list); this adds what only
 * erasing cares about: virtual media, RAID members and kept RAID volumes, read-only and
 * mounted devices, the safety guard's verdict, and IPA's special-filesystem guard. A disk
 * left alone for a reason that is not a choice fails the plan (skip-reasons.ts).
 */
import { realpath } from 'node:fs/promises';
import {
  isMounted,
  listBlockDevices,
  listTargetDisks,
  ProtectedDeviceError,
  skipListVolumeNames,
  type BlockDevice,
  type StepContext,
} from '../../src/hardware/index.js';
import { findKeptRaid } from './kept-raid.js';
import type { EraseSettings } from './settings.js';
import { guardRefusal, isAcceptedSkip, nothingAllowListedError, refusalError, type SkippedEntry } from './skip-reasons.js';

export type { SkippedEntry } from './skip-reasons.js';

export interface ErasePlan {
  /** Every block device lsblk listed (an NVMe format's reach is judged against it). */
  listing: readonly BlockDevice[];
  targets: BlockDevice[];
  /** Left alone by choice (see isAcceptedSkip); a device that cannot be erased fails the plan instead. */
  skipped: SkippedEntry[];
}

/** Filesystem labels of virtual media a BMC attaches (config drive, boot ISO), lower case. */
const VIRTUAL_MEDIA_LABELS = new Set(['config-2', 'vmedia_boot_iso']);

/**
 * A BMC's virtual media seen as a disk: a whole device without partitions, labelled as
 * Ironic labels its media (any case: Ironic's boot ISO is VMEDIA_BOOT_ISO), and removable,
 * on USB or read-only, as a BMC's virtual drive is. Never a partition's label: Ironic's
 * config drive is a `config-2` partition on the deployed root disk, and skipping every disk
 * holding one left the tenant's disk unerased on every cleaning after a deployment, with the
 * step reported a success. IPA skips only the ir-vfd-dev floppy (_is_virtual_media_device);
 * this keeps the label skip for such a drive, which IPA would fail to erase.
 */
function virtualMediaLabel(device: BlockDevice): string | undefined {
  if (device.partitions.length > 0 || !device.label || !VIRTUAL_MEDIA_LABELS.has(device.label.toLowerCase())) return undefined;
  return device.removable || device.transport === 'usb' || device.readOnly ? device.label : undefined;
}
/** IPA's shared-filesystem guard: GPFS and VMFS partition types, MBR 0xfb, gfs2. */
const PROTECTED_PARTITION_TYPES = new Set([
  '37affc90-ef7d-4e96-91c3-2d7ae055b174',
  'aa31e02a-400f-11db-9590-000c2911d1b8',
  '0xfb',
]);

export interface PlanOptions {
  settings: EraseSettings;
  /** erase_devices refuses a read-only device unless agent_erase_skip_read_only; the others skip it. */
  readOnly: 'skip-or-fail' | 'skip';
}

function describeMounts(device: BlockDevice): string {
  const mounts = [...device.mountpoints, ...device.partitions.flatMap((p) => p.mountpoints)];
  return mounts.join(', ');
}

async function virtualFloppy(): Promise<string | undefined> {
  return realpath('/dev/disk/by-label/ir-vfd-dev').catch(() => undefined);
}

function specialFilesystem(device: BlockDevice): string | undefined {
  for (const part of [device, ...device.partitions]) {
    if (part.fsType === 'gfs2') return `${part.path} holds a gfs2 filesystem`;
    const type = part.partitionType?.toLowerCase();
    if (type && PROTECTED_PARTITION_TYPES.has(type)) return `${part.path} has the protected partition type ${type} (GPFS/VMFS)`;
  }
  return undefined;
}

export async function planErase(ctx: StepContext, options: PlanOptions): Promise<ErasePlan> {
  // Signatures are probed for the candidates only, by listTargetDisks.
  const listing = await listBlockDevices(ctx.exec);
  const { targets: candidates, skipped: shared } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node, listing });
  const left: SkippedEntry[] = shared.map(({ device, kind, reason }) => ({ device: device.path, kind, reason }));
  const targets: BlockDevice[] = [];
  const floppy = await virtualFloppy();
  // Before anything is written: the kept volumes' md devices, and the disks holding a member
  // of one, assembled or not (kept-raid.ts).
  const keptRaid = await findKeptRaid(ctx, listing, candidates, new Set(skipListVolumeNames(ctx.node)));
  left.push(...keptRaid.volumes);

  // The safety guard reads sysfs and every process's open files for each device: asked for
  // all devices at once (results used in order below), not one device after another.
  const verdicts = new Map(
    candidates.map((device) => {
      const verdict = ctx.guard.check(device.path);
      // Not awaited for a device skipped for another reason: no unhandled rejection then.
      verdict.catch(() => undefined);
      return [device, verdict] as const;
    }),
  );
  for (const device of candidates) {
    const vmedia = virtualMediaLabel(device);
    const raidMember = [device, ...device.partitions].some((p) => p.fsType === 'linux_raid_member');
    let skip: Omit<SkippedEntry, 'device'> | undefined;
    if (floppy && floppy === (await realpath(device.path).catch(() => device.path)))
      skip = { kind: 'virtual-media', reason: 'virtual media floppy (ir-vfd-dev)' };
    else if (vmedia) skip = { kind: 'virtual-media', reason: `virtual media (filesystem label ${vmedia})` };
    else if (keptRaid.members.has(device.path)) skip = { kind: 'kept-raid-volume', reason: keptRaid.members.get(device.path)! };
    else if (/^raid|^md$/.test(device.type) && left.some((s) => s.device === device.path)) continue;
    else if (raidMember) skip = { kind: 'raid-member', reason: 'member of a software RAID (the RAID device is erased instead)' };
    else if (isMounted(device)) skip = { kind: 'mounted', reason: `holds a mounted filesystem (${describeMounts(device)})` };
    else if (device.readOnly) skip = { kind: 'read-only', reason: 'read-only device' };
    else {
      const verdict = await verdicts.get(device)!;
      if (!verdict.writable) skip = guardRefusal(device.path, verdict);
    }
    if (skip) {
      left.push({ device: device.path, ...skip });
      continue;
    }
    if (options.settings.guardSpecialFilesystems) {
      const special = specialFilesystem(device);
      if (special) throw new ProtectedDeviceError(device.path, special);
    }
    targets.push(device);
  }

  // Every disk that should be erased and cannot be is named at once, before anything is
  // written: the operator sees them all, and a node with data left on a disk never looks clean.
  const readOnlyAccepted = options.readOnly === 'skip' || options.settings.skipReadOnly;
  const refused = left.filter((entry) => !isAcceptedSkip(entry.kind, readOnlyAccepted));
  if (refused.length > 0) throw refusalError(refused);
  if (!(await ctx.guard.inRamdisk())) {
    const nothingAllowed = nothingAllowListedError(targets.length, left);
    if (nothingAllowed) throw nothingAllowed;
  }
  for (const entry of left) ctx.log.info({ device: entry.device, reason: entry.reason }, 'not erasing device');
  if (targets.length === 0) ctx.log.warn({ skipped: left.length }, 'no device to erase');
  return { listing, targets, skipped: left };
}
