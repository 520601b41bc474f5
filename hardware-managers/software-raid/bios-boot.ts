/**
 * The BIOS half of IPA's `raid_utils.prepare_boot_partitions_for_softraid`, with the
 * `hardware.md_restart` IPA's `_install_grub2` does first: the root array is stopped and
 * assembled again from its members (so grub, run next, finds it as the kernel now knows
 * it), then every GPT holder disk gets a 2 MiB BIOS boot partition (`ef02`, labelled
 * `bios-boot-part-<n>`) in the 8 MiB gap create_configuration left at its start, where
 * grub embeds its core image. MBR holders need nothing: grub embeds it in the gap before
 * the first partition (1 MiB). Returns the holder disks grub goes to, and the UUID of every
 * array (IPA's md_get_raid_devices) for an image assembling its root with dracut.
 */
import {
  describeError,
  readPartitionTable,
  rescanPartitions,
  SoftwareRAIDError,
  type StepContext,
} from '../../src/hardware/index.js';
import { listArrays } from './arrays.js';

const BIOS_BOOT_MIB = 2;

export interface SoftwareRaidBiosBoot {
  /** The root array's holder disks, in its member order. */
  holders: string[];
  /** The BIOS boot partitions made (GPT holders only), as device nodes. */
  biosBootPartitions: string[];
  /** Every array's UUID (IPA's md_get_raid_devices), for the image's dracut. */
  arrayUuids: string[];
}

async function restartArray(ctx: StepContext, device: string, components: readonly string[]): Promise<void> {
  try {
    await ctx.exec('mdadm', ['--stop', device]);
    await ctx.exec('mdadm', ['--assemble', device, ...components]);
  } catch (error) {
    throw new SoftwareRAIDError(`Could not restart md device ${device}: ${describeError(error)}`);
  }
  await ctx.exec('udevadm', ['settle'], { quiet: true }).catch(() => undefined);
}

async function makeBiosBootPartition(ctx: StepContext, holder: string, index: number): Promise<string | undefined> {
  const table = await readPartitionTable(ctx.exec, holder);
  if (table?.label !== 'gpt') return undefined;
  const label = `bios-boot-part-${index}`;
  const existing = table.partitions.find((p) => p.name === label);
  if (existing) return existing.node;
  await ctx.guard.assertWritable(holder);
  const { stdout } = await ctx.exec('sgdisk', ['-F', holder]);
  const start = stdout.trim().split('\n').pop()!.trim();
  await ctx.exec('sgdisk', ['-n', `0:${start}:+${BIOS_BOOT_MIB}MiB`, '-t', '0:ef02', '-c', `0:${label}`, holder]);
  await rescanPartitions(ctx.exec, holder, true);
  const made = (await readPartitionTable(ctx.exec, holder))?.partitions.find((p) => p.name === label);
  if (!made)
    throw new SoftwareRAIDError(`The BIOS boot partition ${label} made on ${holder} cannot be found in its partition table`);
  return made.node;
}

export async function prepareSoftwareRaidBiosBoot(ctx: StepContext, rootDevice: string): Promise<SoftwareRaidBiosBoot> {
  const arrays = await listArrays(ctx);
  const root = arrays.find((a) => a.device === rootDevice);
  if (!root) throw new SoftwareRAIDError(`${rootDevice} is not a software RAID device`);
  for (const node of [rootDevice, ...root.components]) await ctx.guard.assertWritable(node);
  await restartArray(ctx, rootDevice, root.components);
  await rescanPartitions(ctx.exec, rootDevice, true);
  const biosBootPartitions: string[] = [];
  for (const [index, holder] of root.holderDisks.entries()) {
    const made = await makeBiosBootPartition(ctx, holder, index);
    if (made) biosBootPartitions.push(made);
  }
  ctx.log.info({ device: rootDevice, holders: root.holderDisks, biosBootPartitions }, 'software RAID holders ready for grub');
  const arrayUuids = arrays.flatMap((a) => (a.uuid ? [a.uuid] : []));
  return { holders: root.holderDisks, biosBootPartitions, arrayUuids };
}
