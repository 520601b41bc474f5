/**
 * IPA's `_install_grub2` for a root on a plain disk in BIOS mode, the case Ironic's
 * configure_local_boot sends after writing a partition image (root_uuid: the root
 * partition's filesystem UUID from get_partition_uuids): IPA's get_partition finds the
 * partition whose filesystem UUID, PARTUUID or label is the root UUID, and the image's own
 * `grub-install` writes grub's boot code to the disk's MBR (its core image into the gap
 * before the first partition on MBR, into the BIOS boot partition write_image made on GPT),
 * then `grub-mkconfig` writes the image's grub.cfg (grub-chroot.ts).
 * Deliberate differences: the partition is looked for on the install device only; IPA's
 * last fallback, `findfs UUID=`, searches every disk of the machine, and grub is never run
 * from a root that is not on the disk being deployed. IPA skips grub-install on a disk that
 * already looks bootable (`file -s` finds a boot sector and a partition has the boot flag);
 * right after write_image partitioned the disk that check is false (parted's empty MBR code
 * reads as data), so grub is installed here as IPA installs it, without `file` in the ramdisk.
 */
import {
  DeviceNotFound,
  findPartitionByUuid,
  readPartitionTable,
  rescanPartitions,
  type PartitionEntry,
  type StepContext,
} from '../../src/hardware/index.js';
import { installImageGrub } from './grub-chroot.js';

export interface GrubOnPartitionRoot {
  rootPartition: string;
  grub: 'grub' | 'grub2';
}

/** The partition of `device` the root UUID names (filesystem UUID, PARTUUID or label), if any. */
export async function partitionNamedBy(ctx: StepContext, device: string, rootUuid: string): Promise<PartitionEntry | undefined> {
  const table = await readPartitionTable(ctx.exec, device);
  return table ? findPartitionByUuid(ctx.exec, device, table, rootUuid) : undefined;
}

export async function installGrubOnPartitionRoot(
  ctx: StepContext,
  device: string,
  rootUuid: string,
): Promise<GrubOnPartitionRoot> {
  // IPA's get_partition rescans the device first: the kernel must know the partitions to mount one.
  await rescanPartitions(ctx.exec, device, device.startsWith('/dev/'));
  const root = await partitionNamedBy(ctx, device, rootUuid);
  if (!root) throw new DeviceNotFound(`No partition with UUID ${rootUuid} found on device ${device}`);
  ctx.log.info({ device, rootUuid, partition: root.node }, 'root partition found by its UUID');
  await ctx.guard.assertWritable(device);
  await ctx.guard.assertWritable(root.node);
  const grub = await installImageGrub(ctx, { rootPartition: root.node, disks: [device] });
  return { rootPartition: root.node, grub };
}
