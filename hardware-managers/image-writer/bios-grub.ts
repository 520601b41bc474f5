/**
 * IPA's `_install_grub2` for a whole-disk image on a software RAID root in BIOS mode: the
 * image's root filesystem is the md device's partition whose filesystem UUID, PARTUUID or
 * label is the root UUID Ironic sends (the image's `rootfs_uuid`), else, as IPA's
 * `get_partition` falls back for md devices, its first partition (Ironic sends the disk
 * identifier when it knows no rootfs UUID); the software RAID manager restarts the array
 * and gives GPT holders a BIOS boot partition, and then, in a chroot of the image's root
 * (grub-chroot.ts), the image's own `grub-install` (or `grub2-install`) writes its boot code
 * to every holder disk, so the machine boots whichever disk the firmware picks, and
 * `grub-mkconfig` writes its config, with `rd.md.uuid=` of every array on the kernel command
 * line when the image has dracut (IPA's _configure_grub).
 */
import { stat } from 'node:fs/promises';
import {
  DeviceNotFound,
  findPartitionByUuid,
  readPartitionTable,
  rescanPartitions,
  type StepContext,
} from '../../src/hardware/index.js';
import { installImageGrub } from './grub-chroot.js';

export interface GrubOnSoftwareRaid {
  rootPartition: string;
  holders: string[];
  biosBootPartitions: string[];
  grub: 'grub' | 'grub2';
}

async function isBlockDevice(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isBlockDevice(),
    () => false,
  );
}

/**
 * The image's root partition on the md device: by `rootUuid` (filesystem UUID, PARTUUID or
 * label, IPA's get_partition), else `<md>p1`. RHEL-family cloud images keep a BIOS boot
 * partition (and an ESP, /boot) before their root, so the first partition is not their root.
 */
async function findRootPartition(ctx: StepContext, device: string, rootUuid: string | null | undefined): Promise<string> {
  const table = rootUuid ? await readPartitionTable(ctx.exec, device) : undefined;
  const byUuid = table && rootUuid ? await findPartitionByUuid(ctx.exec, device, table, rootUuid) : undefined;
  if (byUuid) {
    ctx.log.info({ device, rootUuid, partition: byUuid.node }, 'root partition found by its UUID');
    return byUuid.node;
  }
  const first = `${device}p1`;
  if (!(await isBlockDevice(first))) {
    throw new DeviceNotFound(
      rootUuid
        ? `No partition with UUID ${rootUuid} found on device ${device}, and no partition ${first} to fall back to`
        : `Could not find partition ${first} on md device ${device}`,
    );
  }
  if (rootUuid) ctx.log.info({ device, rootUuid, partition: first }, 'no partition has the root UUID; using the first one');
  return first;
}

/**
 * IPA's `_configure_grub` for an md root: dracut assembles no array at boot unless the
 * kernel command line names it (`rd.auto` is off since dracut 024), so an image with dracut
 * gets `rd.md.uuid=<uuid>` of every array appended to GRUB_CMDLINE_LINUX in its
 * /etc/default/grub (IPA's re.sub, as sed) before grub-mkconfig. Deliberate differences:
 * dracut is looked for with the shell's `command -v` (IPA runs `which`, which minimal
 * images lack, and then leaves the parameters out), and the file is edited inside the
 * chroot, so a link in the image resolves within the image, never into the ramdisk.
 */
async function addMdUuidsForDracut(
  ctx: StepContext,
  inChroot: (command: string) => Promise<unknown>,
  arrayUuids: readonly string[],
): Promise<void> {
  // mdadm's UUIDs are hex and colons; nothing else goes into the shell command.
  const uuids = arrayUuids.filter((uuid) => /^[0-9a-fA-F:.-]+$/.test(uuid));
  if (uuids.length === 0) return;
  const hasDracut = await inChroot('command -v dracut').then(
    () => true,
    () => false,
  );
  if (!hasDracut) return;
  const parameters = uuids.map((uuid) => `rd.md.uuid=${uuid}`).join(' ');
  ctx.log.info({ parameters }, 'the image has dracut: naming the md arrays on its kernel command line');
  await inChroot(`sed -i -E 's/GRUB_CMDLINE_LINUX="(.*)"/GRUB_CMDLINE_LINUX="\\1 ${parameters}"/' /etc/default/grub`);
}

export async function installGrubOnSoftwareRaid(
  ctx: StepContext,
  device: string,
  rootUuid?: string | null,
): Promise<GrubOnSoftwareRaid> {
  const { holders, biosBootPartitions, arrayUuids = [] } = await ctx.dispatch('prepare_software_raid_bios_boot', ctx, device);
  await rescanPartitions(ctx.exec, device, true);
  const rootPartition = await findRootPartition(ctx, device, rootUuid);
  for (const node of [rootPartition, ...holders]) await ctx.guard.assertWritable(node);
  ctx.log.info({ device, holders }, 'installing grub on every software RAID holder disk');
  const grub = await installImageGrub(ctx, {
    rootPartition,
    disks: holders,
    beforeConfig: (image) => addMdUuidsForDracut(ctx, image.run, arrayUuids),
  });
  return { rootPartition, holders, biosBootPartitions, grub };
}
