/**
 * Software RAID volumes kept by the node's `skip_block_devices` (`{"volume_name": ...}`): the
 * md devices an erase step leaves alone, and the disks holding one of their members.
 *
 * IPA (`list_block_devices_check_skip_list`, used by erase_devices and, through
 * `_list_erasable_devices`, by the metadata and express erases) leaves out only the ASSEMBLED
 * arrays `_handle_raid_skip_list` keeps (and, for the last two, those it would wipe); a
 * member disk is then left alone only because `_is_linux_raid_member` finds
 * `linux_raid_member` in `lsblk --fs`, like any RAID member. Here, when the skip list names
 * a volume, every candidate disk and its partitions are also examined (`mdadm --examine`): a
 * disk holding, itself or through a partition, a superblock that names a kept volume is
 * skipped as that volume's member whether or not its array is assembled (our ramdisk
 * assembles nothing at boot, and mdadm may fail to start an array), without depending on a
 * filesystem-signature probe, and the step says which volume it keeps and where. Nothing is
 * examined when the skip list names no volume.
 */
import { examineDevice, hasCommand, type BlockDevice, type StepContext } from '../../src/hardware/index.js';
import type { SkippedEntry } from './skip-reasons.js';

export interface KeptRaid {
  /** Assembled md devices of kept volumes, left alone. */
  volumes: SkippedEntry[];
  /** Disk → why it is left alone (the kept volume it holds a member of). */
  members: Map<string, string>;
}

const isMdDevice = (device: BlockDevice) => /^raid|^md$/.test(device.type);

/** `MD_NAME=host:name` → `name`, as IPA's get_volume_name_of_raid_device. */
async function raidVolumeName(ctx: StepContext, device: BlockDevice): Promise<string | undefined> {
  const { stdout } = await ctx
    .exec('mdadm', ['--detail', '--export', device.path], { quiet: true })
    .catch(() => ({ stdout: '' }));
  const name = /^MD_NAME=(.*)$/m.exec(stdout)?.[1];
  return name?.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
}

/**
 * The first device of the disk (its partitions, then itself) whose superblock names a kept
 * volume, with that name. Examined one after another: a disk has a few partitions, and
 * the disks are examined side by side.
 */
async function keptSuperblockOn(
  ctx: StepContext,
  disk: BlockDevice,
  kept: ReadonlySet<string>,
): Promise<{ device: string; volume: string } | undefined> {
  for (const device of [...disk.partitions.map((p) => p.path), disk.path]) {
    const volume = (await examineDevice(ctx, device))?.volumeName;
    if (volume && kept.has(volume)) return { device, volume };
  }
  return undefined;
}

/**
 * `listing`: every block device (md devices are found there); `candidates`: the disks the
 * step may erase, the only ones examined (outside a ramdisk the allow-listed ones).
 */
export async function findKeptRaid(
  ctx: StepContext,
  listing: readonly BlockDevice[],
  candidates: readonly BlockDevice[],
  kept: ReadonlySet<string>,
): Promise<KeptRaid> {
  const volumes: SkippedEntry[] = [];
  const members = new Map<string, string>();
  if (kept.size === 0 || !(await hasCommand('mdadm'))) return { volumes, members };

  const assembled = new Set<string>();
  for (const md of listing.filter(isMdDevice)) {
    const volume = await raidVolumeName(ctx, md);
    if (!volume || !kept.has(volume)) continue;
    assembled.add(volume);
    volumes.push({
      device: md.path,
      kind: 'kept-raid-volume',
      reason: `software RAID volume "${volume}" is kept (skip_block_devices)`,
    });
    for (const member of listing) {
      const holdsIt = member.holders.includes(md.name) || member.partitions.some((p) => p.holders.includes(md.name));
      if (holdsIt) members.set(member.path, `member of the kept software RAID volume "${volume}"`);
    }
  }

  const disks = candidates.filter((d) => !isMdDevice(d) && !members.has(d.path));
  const found = await Promise.all(disks.map((disk) => keptSuperblockOn(ctx, disk, kept)));
  disks.forEach((disk, index) => {
    const superblock = found[index];
    if (!superblock) return;
    const state = assembled.has(superblock.volume) ? '' : ', its array not assembled';
    members.set(
      disk.path,
      `member of the kept software RAID volume "${superblock.volume}" (superblock on ${superblock.device}${state})`,
    );
  });
  return { volumes, members };
}
