/**
 * IPA's `standby.prepare_image` (reference §14.5): pick the install disk, download the image
 * with its checksum verified, write it, and record the partition UUIDs. A whole-disk image
 * goes onto the disk as it is, the kernel and GPT made to agree with its layout and the config
 * drive added; a partition image (image_type "partition") into the root partition of a
 * layout made for it (write-partition-image.ts).
 *
 * Raw images stream straight onto the disk while being hashed. qcow2 images are decoded
 * onto it as they arrive, or else parked at the end of the target disk and converted onto
 * its start by qemu-img (write-qcow2.ts).
 */
import { freemem } from 'node:os';
import {
  cleanupExec,
  DEFAULT_HARDWARE_SETTINGS,
  DeploymentError,
  diskIdentifier,
  ImageHttpClient,
  InvalidImage,
  isEfiSystemPartition,
  isPrepBootPartition,
  loadConfigDrive,
  MAX_CONFIG_DRIVE_BYTES,
  moveGptBackupToEnd,
  gptBackupAtEnd,
  readPartitionTable,
  rescanPartitions,
  resolveExpectedChecksum,
  TransferProgress,
  validateImageInfo,
  wipeDiskSignatures,
  writeConfigDrive,
  type BlockDevice,
  type DownloadResult,
  type ImageInfo,
  type PartitionTable,
  type StepContext,
} from '../../src/hardware/index.js';
import { downloadTo, type DownloadJob } from './download-to.js';
import { decideFormat, type FormatDecision } from './image-format-decision.js';
import { selectInstallDevice } from './install-device.js';
import { forgetLastWrite, recordLastWrite, type PartitionUuids } from './last-write.js';
import { writePartitionImage } from './write-partition-image.js';
import { assertQcow2HasRoom, writeQcow2, type Qcow2WriteMethod } from './write-qcow2.js';

const MIB = 1024 * 1024;
/** A config drive URL holds at most 64 MiB of ISO, base64-encoded (4/3) and maybe not compressed. */
const CONFIGDRIVE_DOWNLOAD_LIMIT = 96 * MIB;

export interface WriteImageResult {
  /** IPA's result message: `image (<id>) written to device <dev> root_uuid=<uuid>[ efi_system_partition_uuid=<uuid>]`. */
  message: string;
  image_id: string;
  device: string;
  disk_format: string;
  /** `stream` (raw), `qcow2-stream`, or the qemu-img way with why a qcow2 was not decoded as it streamed. */
  write_method: 'stream' | Qcow2WriteMethod;
  bytes_downloaded: number;
  checksum: { algorithm: string; value: string };
  download: { requests: number; resumes: number; rounds: number };
  duration_seconds: number;
  partition_uuids: PartitionUuids;
  configdrive: { partition: string; reused: boolean } | null;
}

export async function writeImage(
  ctx: StepContext,
  rawImageInfo: unknown,
  configdriveArg: string | null | undefined,
): Promise<WriteImageResult> {
  const started = performance.now();
  const settings = ctx.settings ?? DEFAULT_HARDWARE_SETTINGS;
  const info = validateImageInfo(rawImageInfo, { md5Enabled: settings.md5Enabled });
  // Old Ironic releases sent the config drive inside image_info.
  const configdrive = configdriveArg ?? info.configdrive ?? null;

  const device = await selectInstallDevice(ctx);
  await ctx.guard.assertWritable(device.path);
  const progress = new TransferProgress(ctx.progress, { imageId: info.id, device: device.path, stage: 'preparing' });
  const client = new ImageHttpClient(info, settings);
  try {
    const expected = await resolveExpectedChecksum(info, {
      md5Enabled: settings.md5Enabled,
      fetchText: (url) => client.fetchText(url, ctx.signal),
    });
    const partitionImage = info.image_type === 'partition';
    const format = await decideFormat(info, client, settings, ctx, { sizeOfRaw: partitionImage });
    // A bad or oversized config drive must fail the step before the disk is touched.
    const configdriveImage = configdrive
      ? await loadConfigDrive(
          configdrive,
          (url) => client.fetchBytes(url, CONFIGDRIVE_DOWNLOAD_LIMIT, ctx.signal),
          // IPA caps only the whole-disk path's config drive (its partition is 64 MiB); a
          // partition image's gets a partition of its size, checked against the disk in planWrite.
          // Inflating it is still bounded, by the disk and by half the free memory: a small gzip
          // of zeros must not take the agent's RAM (IPA inflates it into a file in its tmpfs).
          partitionImage ? Math.min(device.sizeBytes, Math.floor(freemem() / 2)) : MAX_CONFIG_DRIVE_BYTES,
        )
      : undefined;
    ctx.log.info(
      {
        image: info.id,
        device: device.path,
        format: format.name,
        algorithm: expected.algorithm,
        imageType: info.image_type ?? null,
      },
      'writing image',
    );

    const job: DownloadJob = { ctx, info, client, expected, progress, settings };
    const {
      download,
      method,
      partitionUuids,
      configdrive: configdriveResult,
    } = partitionImage
      ? await writePartitionImage(job, device, format, configdriveImage).then((w) => ({
          ...w,
          configdrive: w.configdrivePartition ? { partition: w.configdrivePartition, reused: false } : null,
        }))
      : await writeWholeDiskImage(job, device, format, configdriveImage);
    recordLastWrite({ imageId: info.id, device: device.path, partitionUuids });
    const message = resultMessage(info, device.path, partitionUuids);
    progress.stage('done');
    ctx.log.info({ image: info.id, device: device.path, bytes: download.bytes }, message);
    return {
      message,
      image_id: info.id,
      device: device.path,
      disk_format: format.name,
      write_method: method,
      bytes_downloaded: download.bytes,
      checksum: { algorithm: expected.algorithm, value: download.checksum },
      download: { requests: download.requests, resumes: download.resumes, rounds: download.rounds },
      duration_seconds: Math.round((performance.now() - started) / 100) / 10,
      partition_uuids: partitionUuids,
      configdrive: configdriveResult,
    };
  } finally {
    await client.close();
  }
}

/** A whole-disk image: onto the disk as it is, its GPT settled, the config drive added at the end. */
async function writeWholeDiskImage(
  job: DownloadJob,
  device: BlockDevice,
  format: FormatDecision,
  configdriveImage: Buffer | undefined,
): Promise<
  Pick<WriteImageResult, 'configdrive'> & {
    download: DownloadResult;
    method: WriteImageResult['write_method'];
    partitionUuids: PartitionUuids;
  }
> {
  const { ctx, info, progress } = job;
  const isBlockDevice = device.type !== 'file';
  assertFits(info, format, device);
  if (format.name === 'qcow2') await assertQcow2HasRoom(info.id, device, isBlockDevice, format);
  // The disk changes from here: what an earlier write recorded no longer describes it.
  forgetLastWrite();
  // IPA's destroy_disk_metadata: the old partition table must not survive the new image.
  await wipeDiskSignatures(ctx.exec, device.path);

  let download: DownloadResult;
  let method: WriteImageResult['write_method'];
  try {
    if (format.name === 'raw') {
      method = 'stream';
      ctx.log.info({ device: device.path }, 'streaming raw image onto the device');
      download = await downloadTo(job, device.path, { limit: device.sizeBytes });
    } else {
      ({ download, method } = await writeQcow2(job, device, isBlockDevice, format));
    }
  } catch (error) {
    // A half-written or unverified image must not look bootable: drop its partition table.
    // Without the step's signal: an abort or the agent's shutdown is what failed the write,
    // and the clean-up must still run (the agent waits for it before it exits).
    await wipeDiskSignatures(cleanupExec(ctx.exec), device.path).catch((wipeError: unknown) =>
      ctx.log.error({ device: device.path, err: wipeError }, 'could not wipe the partition table of a failed image write'),
    );
    throw error;
  }

  progress.stage('partitioning');
  const table = await settleLayout(ctx, device.path, isBlockDevice);

  let configdrive: WriteImageResult['configdrive'] = null;
  let finalTable = table;
  if (configdriveImage) {
    progress.stage('configdrive');
    const placed = await writeConfigDrive(ctx.exec, device.path, isBlockDevice, device.sizeBytes, configdriveImage);
    finalTable = placed.table;
    configdrive = { partition: placed.partition.node, reused: placed.reused };
    ctx.log.info(
      { partition: placed.partition.node, bytes: configdriveImage.length, reused: placed.reused },
      'config drive written',
    );
  }
  const partitionUuids = await collectPartitionUuids(device.path, finalTable, configdrive?.partition);
  return { download, method, partitionUuids, configdrive };
}

/**
 * An image known from its probe to be larger than the disk (a qcow2's virtual size, or the
 * size the server gives for an image inspected as raw) fails before the disk's partition
 * table is wiped, so the disk keeps what it booted before. IPA finds out while writing, after
 * destroy_disk_metadata. A raw image Ironic declares is not probed: the write itself stops at
 * the disk's end.
 */
function assertFits(info: ImageInfo, format: FormatDecision, device: BlockDevice): void {
  const bytes = format.name === 'qcow2' ? format.virtualSize : format.totalBytes;
  if (bytes === undefined || bytes <= device.sizeBytes) return;
  const size = format.name === 'qcow2' ? `expands to ${bytes} bytes` : `is ${bytes} bytes`;
  throw new InvalidImage(`Image ${info.id} ${size}, more than the ${device.sizeBytes}-byte device ${device.path}`);
}

/** The kernel re-reads the table, GPT's backup header moves to the disk's end, and partitions must exist. */
async function settleLayout(ctx: StepContext, device: string, isBlockDevice: boolean): Promise<PartitionTable> {
  await rescanPartitions(ctx.exec, device, isBlockDevice);
  let table = await readPartitionTable(ctx.exec, device);
  if (table?.label === 'gpt' && !(await gptBackupAtEnd(device, table.sectorSize))) {
    // Only the backup header moves: the partitions the kernel knows stay the same.
    await moveGptBackupToEnd(ctx.exec, device);
    table = await readPartitionTable(ctx.exec, device);
  }
  if (!table || table.partitions.length === 0) {
    throw new DeploymentError(`No partitions found on the device ${device} after writing the image.`);
  }
  return table;
}

async function collectPartitionUuids(
  device: string,
  table: PartitionTable,
  configdrivePartition: string | undefined,
): Promise<PartitionUuids> {
  const uuids: PartitionUuids = { 'root uuid': await diskIdentifier(device) };
  const partitions: Record<string, string> = {};
  const esp = table.partitions.find((p) => isEfiSystemPartition(table, p));
  if (esp) {
    partitions['efi system partition'] = esp.node;
    if (esp.partUuid) uuids['efi system partition uuid'] = esp.partUuid;
  }
  const prep = table.partitions.find((p) => isPrepBootPartition(table, p));
  if (prep?.partUuid) {
    partitions['PReP Boot partition'] = prep.node;
    uuids['PReP Boot partition uuid'] = prep.partUuid;
  }
  if (configdrivePartition) partitions.configdrive = configdrivePartition;
  if (Object.keys(partitions).length > 0) uuids.partitions = partitions;
  return uuids;
}

/** IPA's `_message_format`. */
function resultMessage(info: ImageInfo, device: string, uuids: PartitionUuids): string {
  const base = `image (${info.id}) written to device ${device} root_uuid=${uuids['root uuid'] ?? 'None'}`;
  const esp = uuids['efi system partition uuid'];
  return info.deploy_boot_mode === 'uefi' && esp ? `${base} efi_system_partition_uuid=${esp}` : base;
}
