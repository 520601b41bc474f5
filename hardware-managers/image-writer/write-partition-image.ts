/**
 * Partition images (image_info `image_type` "partition"), as IPA's `_write_partition_image` and
 * `partition_utils.work_on_disk` write them: a new partition table laid out by
 * `make_partitions` (partition-layout.ts), the ESP formatted vfat, the config drive copied to
 * its partition, the image written into the root partition, swap and the ephemeral partition
 * formatted, and the UUIDs `get_partition_uuids` answers: `root uuid` (the root file system's),
 * `efi system partition uuid` (the ESP's, null without one), `partitions` (role → device).
 *
 * Differences from IPA, each for safety or speed:
 * - Every check that can fail cheaply runs before the disk is touched: the layout against the
 *   disk's size, the image's size against `root_mb`, that the ramdisk can make each file system
 *   asked for, and (preserve_ephemeral) that the disk still has the layout being reused. IPA
 *   finds most of these out from a failing tool, with the old table already destroyed.
 * - The image streams into the root partition as it downloads, hashed on the way, instead of
 *   IPA's download to a file in RAM first; a qcow2 is decoded as it streams or converted by
 *   qemu-img (write-qcow2.ts), the partition being a block device like a disk. As on the
 *   whole-disk path, an image whose checksum fails is not reported: the root partition's and
 *   (unless preserving) the disk's signatures are wiped and nothing is recorded for
 *   get_partition_uuids. (IPA's stream_raw_images path records the partitions before streaming.)
 * - The boot mode and table type come from the node as IPA reads them; image_info's
 *   `deploy_boot_mode` and `disk_label` (which Ironic computes from the same node) stand in
 *   for a node that gives no hint, before the ramdisk's own boot mode and msdos.
 */
import { basename } from 'node:path';
import { open } from 'node:fs/promises';
import { machine } from 'node:os';
import {
  cleanupExec,
  CommandExecutionError,
  DEFAULT_HARDWARE_SETTINGS,
  DeploymentError,
  ImageWriteError,
  InvalidCommandParamsError,
  InvalidImage,
  nodeBootMode,
  partitionTableType,
  ramdiskBootMode,
  readPartitionTable,
  rescanPartitions,
  waitForPartitionNodes,
  wipeDiskSignatures,
  type BlockDevice,
  type BootMode,
  type DownloadResult,
  type Exec,
  type ImageInfo,
  type PartitionTable,
  type StepContext,
  type TableType,
} from '../../src/hardware/index.js';
import { downloadTo, type DownloadJob } from './download-to.js';
import type { FormatDecision } from './image-format-decision.js';
import { BIOS_INSTALL_DISABLED } from './install-bootloader.js';
import { forgetLastWrite, type PartitionUuids } from './last-write.js';
import { assertCanMake, blockUuid, makeFilesystem, runLayoutTool } from './partition-filesystems.js';
import { partedArguments, partitionPath, planPartitions, type PartitionLayout, type PartitionRole } from './partition-layout.js';
import { assertQcow2HasRoom, writeQcow2, type Qcow2WriteMethod } from './write-qcow2.js';

const MIB = 1024 * 1024;
/** GPT keeps a backup table in the disk's last 33 sectors: the layout leaves the last MiB free. */
const GPT_BACKUP_MIB = 1;
/** IPA's defaults for `[disk_utils] efi_system_partition_size` and `bios_boot_partition_size` (MiB). */
export const DEFAULT_EFI_SYSTEM_PARTITION_MB = 550;
export const DEFAULT_BIOS_BOOT_PARTITION_MB = 1;

export interface PartitionWrite {
  download: DownloadResult;
  method: 'stream' | Qcow2WriteMethod;
  partitionUuids: PartitionUuids;
  configdrivePartition: string | undefined;
}

interface PartitionPlan {
  layout: PartitionLayout;
  bootMode: BootMode;
  preserveEphemeral: boolean;
  ephemeralFormat: string | undefined;
  /** Role → partition device, IPA's `part_dict`. */
  paths: Partial<Record<PartitionRole, string>>;
}

export async function writePartitionImage(
  job: DownloadJob,
  device: BlockDevice,
  format: FormatDecision,
  configdrive: Buffer | undefined,
): Promise<PartitionWrite> {
  const { ctx } = job;
  const exec = ctx.exec;
  const plan = await planWrite(ctx, job.info, device, format, configdrive);
  ctx.log.info(
    { device: device.path, label: plan.layout.label, bootMode: plan.bootMode, partitions: plan.paths },
    plan.preserveEphemeral ? 'reusing the partition layout (preserve_ephemeral)' : 'partitioning for a partition image',
  );

  // From here the disk changes: what an earlier write recorded no longer describes it.
  forgetLastWrite();
  job.progress.stage('partitioning');
  if (!plan.preserveEphemeral) {
    // IPA's destroy_disk_metadata, then DiskPartitioner.commit.
    await wipeDiskSignatures(exec, device.path);
    await runLayoutTool(exec, 'parted', partedArguments(device.path, plan.layout), device.path);
  }
  await rescanPartitions(exec, device.path, true);
  await assertPartitionsPresent(exec, device.path, plan);
  const part = (role: PartitionRole) => plan.paths[role];

  const esp = part('efi system partition');
  if (esp) await makeFilesystem(exec, 'vfat', esp, 'efi-part');
  const configdrivePartition = part('configdrive');
  if (configdrive && configdrivePartition) {
    job.progress.stage('configdrive');
    await copyInto(configdrivePartition, configdrive);
    ctx.log.info({ partition: configdrivePartition, bytes: configdrive.length }, 'config drive written');
  }

  const root = part('root')!;
  let written: { download: DownloadResult; method: PartitionWrite['method'] };
  try {
    written = await populateRoot(job, device, root, plan, format);
  } catch (error) {
    await dropFailedWrite(ctx, device.path, root, plan.preserveEphemeral);
    throw error;
  }

  const swap = part('swap');
  if (swap) await makeFilesystem(exec, 'swap', swap, 'swap1');
  const ephemeral = part('ephemeral');
  if (ephemeral && !plan.preserveEphemeral) await makeFilesystem(exec, plan.ephemeralFormat!, ephemeral, 'ephemeral0');
  // IPA's trigger_device_rescan: the kernel and udev see the new file systems.
  await rescanPartitions(exec, device.path, true);

  const partitionUuids: PartitionUuids = {
    partitions: plan.paths as Record<string, string>,
    'root uuid': await blockUuid(exec, root),
    'efi system partition uuid': esp ? await blockUuid(exec, esp) : null,
  };
  const prep = part('PReP Boot partition');
  if (prep) partitionUuids['PReP Boot partition uuid'] = await blockUuid(exec, prep);
  return { ...written, partitionUuids, configdrivePartition };
}

/** Every check that needs no write: the plan, or the reason the write cannot go ahead. */
async function planWrite(
  ctx: StepContext,
  info: ImageInfo,
  device: BlockDevice,
  format: FormatDecision,
  configdrive: Buffer | undefined,
): Promise<PartitionPlan> {
  if (device.type === 'file') {
    throw new DeploymentError(`A partition image needs a block device to partition; ${device.path} is a plain file`);
  }
  const rootMb = info.root_mb ?? 0;
  const imageBytes = format.name === 'qcow2' ? format.virtualSize : format.totalBytes;
  if (imageBytes !== undefined) {
    const imageMb = Math.ceil(imageBytes / MIB);
    // IPA's message and error (_write_partition_image).
    if (imageMb > rootMb) {
      throw new InvalidCommandParamsError(
        `Root partition is too small for requested image. Image virtual size: ${imageMb} MB, Root size: ${rootMb} MB`,
      );
    }
  }
  const bootMode = nodeBootMode(ctx.node, modeOf(info.deploy_boot_mode) ?? (await ramdiskBootMode()));
  assertBootable(ctx, device, bootMode);
  const diskLabel = tableFor(ctx, info, bootMode);
  const settings = ctx.managerSettings ?? {};
  const layoutWith = (configdriveMb: number) =>
    planPartitions({
      rootMb,
      swapMb: info.swap_mb ?? 0,
      ephemeralMb: info.ephemeral_mb ?? 0,
      configdriveMb,
      bootMode,
      diskLabel,
      cpuArch: machine(),
      efiSystemPartitionMb: (settings.efi_system_partition_size as number | undefined) ?? DEFAULT_EFI_SYSTEM_PARTITION_MB,
      biosBootPartitionMb: (settings.bios_boot_partition_size as number | undefined) ?? DEFAULT_BIOS_BOOT_PARTITION_MB,
    });
  // IPA's get_configdrive: the decompressed config drive's size, rounded up to a MiB.
  let layout = layoutWith(configdrive ? Math.ceil(configdrive.length / MIB) : 0);
  const preserveEphemeral = info.preserve_ephemeral === true;
  const existing = preserveEphemeral ? await readPartitionTable(ctx.exec, device.path) : undefined;
  const keptConfigdriveMb = configdrive && keptConfigdrivePartitionMb(layout, existing, configdrive.length);
  if (keptConfigdriveMb) layout = layoutWith(keptConfigdriveMb);
  const neededMib = layout.endMib + (diskLabel === 'gpt' ? GPT_BACKUP_MIB : 0);
  if (neededMib * MIB > device.sizeBytes) {
    throw new InvalidCommandParamsError(
      `The partition layout needs ${neededMib} MiB (root_mb ${rootMb}, swap_mb ${info.swap_mb ?? 0}, ` +
        `ephemeral_mb ${info.ephemeral_mb ?? 0}, ${layout.partitions.length} partitions from 1 MiB), ` +
        `more than the ${Math.floor(device.sizeBytes / MIB)} MiB of ${device.path}`,
    );
  }
  const ephemeralFormat = info.ephemeral_format ?? undefined;
  const hasEphemeral = layout.partitions.some((p) => p.role === 'ephemeral');
  if (hasEphemeral && !preserveEphemeral) {
    // Ironic always sends one (its default_ephemeral_format) with an ephemeral partition.
    if (!ephemeralFormat) throw new InvalidCommandParamsError("'ephemeral_format' is required with 'ephemeral_mb'");
    await assertCanMake(ephemeralFormat);
  }
  if (bootMode === 'uefi') await assertCanMake('vfat');
  if (info.swap_mb) await assertCanMake('swap');
  const paths: PartitionPlan['paths'] = {};
  for (const p of layout.partitions) paths[p.role] = partitionPath(device.path, p.number);
  const plan = { layout, bootMode, preserveEphemeral, ephemeralFormat, paths };
  if (preserveEphemeral) assertLayoutKept(device.path, layout, existing);
  if (format.name === 'qcow2') {
    const root = layout.partitions.find((p) => p.role === 'root')!;
    await assertQcow2HasRoom(info.id, { path: paths.root!, sizeBytes: (root.endMib - root.startMib) * MIB }, true, format);
  }
  return plan;
}

/**
 * preserve_ephemeral with a config drive: the config drive partition already on the disk is
 * reused when the new config drive fits in it (its size in MiB, to plan the layout as it is),
 * as IPA's commit=False writes into whatever partition has that number: a rebuild's config
 * drive that rounds to fewer MiB than the first deployment's (its metadata shrank) must not
 * refuse the rebuild. One that does not fit is left to assertLayoutKept to refuse, a deliberate
 * difference: IPA would dd it past the partition's end into the root partition.
 */
function keptConfigdrivePartitionMb(
  layout: PartitionLayout,
  table: PartitionTable | undefined,
  configdriveBytes: number,
): number | undefined {
  const planned = layout.partitions.find((p) => p.role === 'configdrive');
  const found = planned && table?.partitions.find((entry) => entry.number === planned.number);
  if (!planned || !found || found.startBytes !== planned.startMib * MIB) return undefined;
  if (found.sizeBytes % MIB !== 0 || found.sizeBytes < configdriveBytes) return undefined;
  return found.sizeBytes / MIB;
}

/**
 * A partition image boots only through the image's grub, which install_bootloader puts on the
 * disk after this write (Ironic's configure_local_boot always asks for it with the root UUID).
 * Where this agent's install_bootloader is bound to refuse it (UEFI: install-bootloader.ts's
 * refuseUefiPartitionRoot; BIOS without enable_bios_bootloader_install, IPA's CVE-2026-43003
 * gate), the write is refused here, before the disk is touched. Deliberate difference: IPA
 * writes the image (destroying what the disk held) and only install_bootloader then fails,
 * leaving a disk that neither boots nor keeps its old contents.
 */
function assertBootable(ctx: StepContext, device: BlockDevice, bootMode: BootMode): void {
  const untouched = `Nothing was written to ${device.path}.`;
  if (bootMode === 'uefi') {
    throw new CommandExecutionError(
      "UEFI boot of a partition image is not supported: this agent does not install the image's grub for UEFI, " +
        'so the deployed disk could not boot. Partition images are supported in BIOS mode (grub-install onto the disk, ' +
        'with enable_bios_bootloader_install); for UEFI deploy a whole-disk image that carries its own EFI system ' +
        `partition. ${untouched}`,
    );
  }
  if (!(ctx.settings ?? DEFAULT_HARDWARE_SETTINGS).enableBiosBootloaderInstall) {
    throw new InvalidImage(
      `${BIOS_INSTALL_DISABLED} A partition image boots only with the image's grub installed by install_bootloader. ${untouched}`,
    );
  }
}

function modeOf(value: string | null | undefined): BootMode | undefined {
  const lower = value?.toLowerCase();
  return lower === 'uefi' || lower === 'bios' ? lower : undefined;
}

/** IPA's get_partition_table_type_from_specs; image_info's disk_label when the node names none. */
function tableFor(ctx: StepContext, info: ImageInfo, bootMode: BootMode): TableType {
  const fromNode = partitionTableType(ctx.node, bootMode);
  return fromNode === 'msdos' && info.disk_label === 'gpt' ? 'gpt' : fromNode;
}

/**
 * preserve_ephemeral reuses the partitions in place (IPA's `commit=False`): nothing is
 * repartitioned, so the disk must hold exactly the planned layout. IPA trusts Ironic's check
 * that the sizes did not change and writes by partition number whatever is there; a disk that
 * differs is refused here before anything is written.
 */
function assertLayoutKept(device: string, layout: PartitionLayout, table: PartitionTable | undefined): void {
  const want = layout.label === 'msdos' ? 'dos' : 'gpt';
  const problem = (() => {
    if (!table) return 'it has no partition table';
    if (table.label !== want) return `its partition table is ${table.label}, not ${want}`;
    for (const p of layout.partitions) {
      const found = table.partitions.find((entry) => entry.number === p.number);
      const start = p.startMib * MIB;
      const size = (p.endMib - p.startMib) * MIB;
      if (!found) return `it has no partition ${p.number} (${p.role})`;
      if (found.startBytes !== start || found.sizeBytes !== size) {
        return `partition ${p.number} (${p.role}) spans ${found.startBytes}+${found.sizeBytes} bytes, not ${start}+${size}`;
      }
    }
    return undefined;
  })();
  if (problem) {
    throw new DeploymentError(
      `Cannot preserve the ephemeral partition on ${device}: ${problem}. Deploy without preserve_ephemeral to repartition.`,
    );
  }
}

/** IPA checks each partition is a block device ("Root device ... not found"); the kernel may still be adding them. */
async function assertPartitionsPresent(exec: Exec, device: string, plan: PartitionPlan): Promise<void> {
  const table = await readPartitionTable(exec, device);
  const numbers = new Set(table?.partitions.map((p) => p.number));
  const missing = plan.layout.partitions.filter((p) => !numbers.has(p.number));
  if (!table || missing.length > 0) {
    throw new DeploymentError(
      `Partitioning ${device} left no partition ${missing.map((p) => `${p.number} (${p.role})`).join(', ')}`,
    );
  }
  const wanted = {
    ...table,
    partitions: table.partitions.filter((p) => plan.layout.partitions.some((q) => q.number === p.number)),
  };
  if (!(await waitForPartitionNodes(wanted))) {
    throw new DeploymentError(`Root device '${plan.paths.root}' not found`);
  }
}

/** The image into the root partition: raw streamed, qcow2 decoded or converted, hashed as it goes. */
async function populateRoot(
  job: DownloadJob,
  device: BlockDevice,
  root: string,
  plan: PartitionPlan,
  format: FormatDecision,
): Promise<{ download: DownloadResult; method: PartitionWrite['method'] }> {
  const rootPartition = plan.layout.partitions.find((p) => p.role === 'root')!;
  const target: BlockDevice = {
    ...device,
    name: basename(root),
    path: root,
    type: 'part',
    sizeBytes: (rootPartition.endMib - rootPartition.startMib) * MIB,
  };
  await job.ctx.guard.assertWritable(root);
  if (format.name === 'raw') {
    job.ctx.log.info({ partition: root }, 'streaming the raw partition image into the root partition');
    return { download: await downloadTo(job, root, { limit: target.sizeBytes }), method: 'stream' };
  }
  return writeQcow2(job, target, true, format);
}

/** A failed or unverified root write must not look usable; without the step's signal, as on the whole-disk path. */
async function dropFailedWrite(ctx: StepContext, device: string, root: string, preserveEphemeral: boolean): Promise<void> {
  const exec = cleanupExec(ctx.exec);
  const targets = preserveEphemeral ? [root] : [root, device];
  for (const target of targets) {
    await wipeDiskSignatures(exec, target).catch((error: unknown) =>
      ctx.log.error({ device: target, err: error }, 'could not wipe the signatures of a failed partition image write'),
    );
  }
}

/** IPA's `dd` of the config drive file onto its partition. */
async function copyInto(partition: string, bytes: Buffer): Promise<void> {
  const handle = await open(partition, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.datasync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ImageWriteError(partition, code, '', (error as Error).message);
  } finally {
    await handle.close();
  }
}
