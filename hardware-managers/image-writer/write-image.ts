/**
 * IPA's `standby.prepare_image` for whole-disk images (reference §14.5): pick the install
 * disk, download the image with its checksum verified, write it, make the kernel and GPT
 * agree with the new layout, add the config drive, and record the partition UUIDs.
 *
 * Raw images stream straight onto the disk while being hashed. qcow2 images are decoded
 * onto it as they arrive, or else parked at the end of the target disk and converted onto
 * its start by qemu-img (write-qcow2.ts).
 */
import {
  cleanupExec,
  DEFAULT_HARDWARE_SETTINGS,
  DeploymentError,
  detectFormat,
  diskIdentifier,
  ImageDownloadError,
  ImageHttpClient,
  InvalidImage,
  isEfiSystemPartition,
  isPrepBootPartition,
  loadConfigDrive,
  moveGptBackupToEnd,
  gptBackupAtEnd,
  PERMITTED_FORMATS,
  qcow2VirtualSize,
  readPartitionTable,
  redactUrl,
  rescanPartitions,
  resolveExpectedChecksum,
  TransferProgress,
  validateImageInfo,
  wipeDiskSignatures,
  writeConfigDrive,
  type BlockDevice,
  type DetectedFormat,
  type DownloadResult,
  type HardwareSettings,
  type ImageInfo,
  type PartitionTable,
  type StepContext,
} from '../../src/hardware/index.js';
import { downloadTo, type DownloadJob } from './download-to.js';
import { selectInstallDevice } from './install-device.js';
import { recordLastWrite, type PartitionUuids } from './last-write.js';
import { writeQcow2, type Qcow2WriteMethod } from './write-qcow2.js';

const MIB = 1024 * 1024;
/**
 * The image's first bytes, read to tell its format: enough for a qcow2's header with its
 * extensions (qemu-img keeps them within the first 4 KiB), which decides whether it can be
 * decoded as it streams.
 */
const HEAD_PROBE_BYTES = 64 * 1024;
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
  const isBlockDevice = device.type !== 'file';
  const progress = new TransferProgress(ctx.progress, { imageId: info.id, device: device.path, stage: 'preparing' });
  const client = new ImageHttpClient(info, settings);
  try {
    const expected = await resolveExpectedChecksum(info, {
      md5Enabled: settings.md5Enabled,
      fetchText: (url) => client.fetchText(url, ctx.signal),
    });
    const format = await decideFormat(info, client, settings, ctx);
    // A bad or oversized config drive must fail the step before the disk is touched.
    const configdriveImage = configdrive
      ? await loadConfigDrive(configdrive, (url) => client.fetchBytes(url, CONFIGDRIVE_DOWNLOAD_LIMIT, ctx.signal))
      : undefined;
    ctx.log.info({ image: info.id, device: device.path, format: format.name, algorithm: expected.algorithm }, 'writing image');

    assertFits(info, format, device);
    // IPA's destroy_disk_metadata: the old partition table must not survive the new image.
    await wipeDiskSignatures(ctx.exec, device.path);

    const job: DownloadJob = { ctx, info, client, expected, progress, settings };
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

    let configdriveResult: WriteImageResult['configdrive'] = null;
    let finalTable = table;
    if (configdriveImage) {
      progress.stage('configdrive');
      const placed = await writeConfigDrive(ctx.exec, device.path, isBlockDevice, device.sizeBytes, configdriveImage);
      finalTable = placed.table;
      configdriveResult = { partition: placed.partition.node, reused: placed.reused };
      ctx.log.info(
        { partition: placed.partition.node, bytes: configdriveImage.length, reused: placed.reused },
        'config drive written',
      );
    }

    const partitionUuids = await collectPartitionUuids(device.path, finalTable, configdriveResult?.partition);
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

interface FormatDecision {
  name: 'raw' | 'qcow2';
  /** Size of the file to download, when the server said. */
  totalBytes: number | undefined;
  /** qcow2 only: the disk size the image expands to. */
  virtualSize: number | undefined;
  /** The image's first bytes, as probed (empty when trusted without a look). */
  head: Buffer;
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

/** What this writer can put on a disk: raw streams onto it, qcow2 is decoded or converted. */
const WRITABLE_FORMATS: ReadonlySet<DetectedFormat> = new Set(['raw', 'qcow2']);

/**
 * IPA's `get_and_validate_image_format` (disk_utils.py), with its messages. An image Ironic
 * declares raw or gpt is written as it is, never inspected nor held to the permitted formats
 * (it never reaches qemu-img). Anything else is inspected from its first bytes: the format
 * found must be in `permitted_image_formats`, then equal `disk_format` (unless `unknown`).
 *
 * With `disable_deep_image_inspection` IPA takes the format `qemu-img info` probes and checks
 * neither; here the first bytes say it, as qemu-img's probe reads them. Deliberate
 * differences: a qcow2 with a backing or external data file is refused even then
 * (write-qcow2.ts), where IPA would let qemu-img read that file: in a ramdisk it can only be
 * one of the ramdisk's own files, never part of an image that boots. And a permitted format
 * this writer has no path for (vmdk, vhdx, ...; IPA converts them with qemu-img) is refused
 * by name rather than written wrong.
 */
async function decideFormat(
  info: ImageInfo,
  client: ImageHttpClient,
  settings: HardwareSettings,
  ctx: StepContext,
): Promise<FormatDecision> {
  const declared = (info.disk_format ?? '').toLowerCase();
  if (declared === 'raw' || declared === 'gpt') {
    return { name: 'raw', totalBytes: undefined, virtualSize: undefined, head: Buffer.alloc(0) };
  }
  let probed: { head: Buffer; totalBytes: number | undefined } | undefined;
  let problem = '';
  for (const url of info.urls) {
    try {
      probed = await client.probe(url, HEAD_PROBE_BYTES, ctx.signal);
      break;
    } catch (error) {
      problem = `${redactUrl(url)}: ${(error as Error).message}`;
    }
  }
  if (!probed) throw new ImageDownloadError(info.id, `cannot read the image to inspect its format: ${problem}`);
  const detected = detectFormat(probed.head);
  if (settings.disableDeepImageInspection) {
    ctx.log.warn(
      { image: info.id, disk_format: declared || null, detected },
      'deep image inspection is disabled (disable_deep_image_inspection): the format is not checked against disk_format or the permitted formats',
    );
  } else {
    const permitted = settings.permittedImageFormats ?? [...PERMITTED_FORMATS];
    if (!permitted.includes(detected)) {
      throw new InvalidImage(`Security: Detected image format was ${detected}, but only ${permitted.join(', ')} are allowed`);
    }
    if (declared && declared !== 'unknown' && declared !== detected) {
      throw new InvalidImage(`Security: Expected format was ${declared}, but image was actually ${detected}`);
    }
  }
  if (!WRITABLE_FORMATS.has(detected)) {
    throw new InvalidImage(`Image ${info.id} is in ${detected} format, which this agent cannot write (only raw and qcow2)`);
  }
  return {
    name: detected as FormatDecision['name'],
    totalBytes: probed.totalBytes,
    virtualSize: detected === 'qcow2' ? qcow2VirtualSize(probed.head) : undefined,
    head: probed.head,
  };
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
