/**
 * qcow2 images (reference §14.5 B), first choice: decoded as they download, straight onto
 * the disk at their guest offsets (qcow2-download.ts), the disk written once. An image the
 * decoder does not handle (judged from its header before anything is written) or gives up
 * on while streaming (its tables after more data than it holds) goes the qemu-img way,
 * from the start, with the reason in the log and in the method.
 *
 * The qemu-img way: parked at the END of the target disk while being hashed,
 * then expanded by `qemu-img convert` onto the START of the same disk, so nothing is held in
 * RAM or tmpfs, unlike IPA's `/tmp` cache. The conversion does not wait for the last byte:
 * qemu-img reads the parked copy through an NBD export whose reads wait until the download
 * has written what they ask for (growing-image-export.ts), so downloading, hashing and
 * converting overlap. What qemu-img read is what was hashed; should the download start over
 * (checksum mismatch, a server ignoring Range) or the overlapped conversion fail, the
 * verified parked copy is converted again once the download is complete. Only when the
 * disk cannot hold the image and its virtual size at once does the download go to a
 * scratch file in the temp directory (RAM on a ramdisk), as IPA always does.
 */
import { statfs, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertSafeQemuImage,
  cleanupExec,
  convertToDevice,
  ImageDownloadOutofSpaceError,
  imageAtOffsetSpec,
  InvalidImage,
  qemuImgInfo,
  type BlockDevice,
  type DownloadResult,
} from '../../src/hardware/index.js';
import { downloadTo, type DownloadJob } from './download-to.js';
import { GrowingImageExport } from './growing-image-export.js';
import { downloadDecodingQcow2, Qcow2StreamFallback } from './qcow2-download.js';
import { judgeQcow2Header } from './qcow2-header.js';

const MIB = 1024 * 1024;
/** Room left between the converted image's end and the parked qcow2 (alignment, GPT backup). */
const SCRATCH_MARGIN = 4 * MIB;
/** Disk bytes one L2 table maps with qcow2's default 64 KiB clusters (8192 entries). */
const L2_REACH = 512 * MIB;
/** A sparse disk of hundreds of GiB is converted in this many pieces at most. */
const MAX_WINDOWS = 16;
/**
 * The download's last bytes, kept in memory for qemu-img's reads of what just arrived: read
 * back from a disk the download is writing at full speed, 2 MiB took ~20 ms (~100 MB/s)
 * where an idle one answers in ~3 ms, and the conversion fell behind the download.
 */
const RECENT_BYTES = 16 * MIB;

type ConvertMethod = 'qcow2-in-place' | 'qcow2-scratch-file';
export type Qcow2WriteMethod = 'qcow2-stream' | ConvertMethod | `${ConvertMethod} (not streamed: ${string})`;

export async function writeQcow2(
  job: DownloadJob,
  device: BlockDevice,
  isBlockDevice: boolean,
  format: { totalBytes: number | undefined; virtualSize: number | undefined; head: Buffer },
): Promise<{ download: DownloadResult; method: Qcow2WriteMethod }> {
  const { ctx, info } = job;
  // Larger than the device: refused before the disk was wiped (write-image.ts, assertFits).
  const virtualSize = format.virtualSize ?? 0;
  const verdict = judgeQcow2Header(format.head);
  let reason: string;
  if (verdict.streamable) {
    try {
      ctx.log.info(
        { device: device.path, clusterSize: verdict.header.clusterSize },
        'decoding the qcow2 onto the device as it downloads',
      );
      const { download, stats } = await downloadDecodingQcow2(job, device, isBlockDevice, {
        header: verdict.header,
        head: format.head,
      });
      ctx.log.info({ device: device.path, ...stats }, 'qcow2 decoded onto the device');
      return { download, method: 'qcow2-stream' };
    } catch (error) {
      if (!(error instanceof Qcow2StreamFallback)) throw error;
      reason = error.reason;
    }
  } else reason = verdict.reason;
  ctx.log.warn({ image: info.id, reason }, 'qcow2 not decoded as it streams; converting it with qemu-img instead');
  job.progress.rewind(0);
  const { download, method } = await convertQcow2(job, device, isBlockDevice, format.totalBytes, virtualSize);
  return { download, method: `${method} (not streamed: ${reason})` };
}

/** Where the qcow2 file is parked on a target of `sizeBytes`: -1 when its size is unknown. */
function parkingOffset(sizeBytes: number, fileBytes: number | undefined): number {
  return fileBytes === undefined ? -1 : Math.floor((sizeBytes - fileBytes - SCRATCH_MARGIN) / MIB) * MIB;
}

function noRoom(
  imageId: string,
  at: { fileBytes: number; virtualSize: number; device: Pick<BlockDevice, 'path' | 'sizeBytes'>; dir: string; room: number },
): ImageDownloadOutofSpaceError {
  return new ImageDownloadOutofSpaceError(
    imageId,
    `the ${at.fileBytes}-byte qcow2 fits neither beside its ${at.virtualSize}-byte expansion on ${at.device.path} (${at.device.sizeBytes} bytes) ` +
      `nor in ${at.dir} (${at.room} bytes free)`,
  );
}

/**
 * The qemu-img way's room, checked before the target disk is wiped or partitioned: a qcow2 whose
 * header already says it cannot be decoded as it streams, that fits neither parked beside its
 * expansion on the target nor in the temp directory, fails as convertQcow2 would fail later,
 * with the disk as it was. (IPA finds out while downloading to its cache, after
 * destroy_disk_metadata.) One that starts streaming and gives up mid-way is only known then.
 */
export async function assertQcow2HasRoom(
  imageId: string,
  target: Pick<BlockDevice, 'path' | 'sizeBytes'>,
  isBlockDevice: boolean,
  format: { totalBytes: number | undefined; virtualSize: number | undefined; head: Buffer },
): Promise<void> {
  const fileBytes = format.totalBytes;
  const virtualSize = format.virtualSize ?? 0;
  if (fileBytes === undefined || judgeQcow2Header(format.head).streamable) return;
  if (isBlockDevice && parkingOffset(target.sizeBytes, fileBytes) >= virtualSize) return;
  const dir = tmpdir();
  const room = await statfs(dir).then((s) => s.bavail * s.bsize);
  if (fileBytes + SCRATCH_MARGIN > room) throw noRoom(imageId, { fileBytes, virtualSize, device: target, dir, room });
}

/** The qemu-img way: parked on the disk beside its expansion, else in a scratch file. */
async function convertQcow2(
  job: DownloadJob,
  device: BlockDevice,
  isBlockDevice: boolean,
  fileBytes: number | undefined,
  virtualSize: number,
): Promise<{ download: DownloadResult; method: ConvertMethod }> {
  const { ctx, info } = job;
  const scratchOffset = parkingOffset(device.sizeBytes, fileBytes);
  if (isBlockDevice && fileBytes !== undefined && scratchOffset >= virtualSize) {
    let download: DownloadResult;
    try {
      download = await parkAndConvert(job, device, { scratchOffset, fileBytes, virtualSize });
    } catch (error) {
      await dropParkedCopy(ctx, device.path, scratchOffset, fileBytes).catch((dropError: unknown) =>
        ctx.log.error({ device: device.path, err: dropError }, 'could not wipe the parked qcow2 of a failed image write'),
      );
      throw error;
    }
    await dropParkedCopy(ctx, device.path, scratchOffset, fileBytes);
    return { download, method: 'qcow2-in-place' };
  }

  // The disk cannot hold both at once (or the server gave no size): spool to a scratch file.
  const dir = tmpdir();
  const room = await statfs(dir).then((s) => s.bavail * s.bsize);
  if (fileBytes !== undefined && fileBytes + SCRATCH_MARGIN > room) {
    throw noRoom(info.id, { fileBytes, virtualSize, device, dir, room });
  }
  ctx.log.warn(
    { dir, fileBytes: fileBytes ?? null },
    'qcow2 image does not fit beside its expansion on the disk; using a scratch file (RAM on a ramdisk)',
  );
  const scratch = join(dir, `ramdisk-agent-image-${process.pid}-${Date.now()}.qcow2`);
  await writeFile(scratch, '');
  try {
    const download = await downloadTo(job, scratch, { limit: Math.min(room, fileBytes ?? room) });
    await inspectAndConvert(job, scratch, device, isBlockDevice);
    return { download, method: 'qcow2-scratch-file' };
  } finally {
    await unlink(scratch).catch(() => undefined);
  }
}

/** Download into the parked area while qemu-img converts what has arrived. */
async function parkAndConvert(
  job: DownloadJob,
  device: BlockDevice,
  { scratchOffset, fileBytes, virtualSize }: { scratchOffset: number; fileBytes: number; virtualSize: number },
): Promise<DownloadResult> {
  const { ctx, info, progress } = job;
  // Checked now, while the disk is idle, rather than once the first bytes are in: the check
  // walks every process's open files, which behind a download at full speed took 1-2 s.
  await ctx.guard.assertWritable(device.path);
  const parked = await GrowingImageExport.start(device.path, scratchOffset, fileBytes, { recentBytes: RECENT_BYTES });
  const stop = new AbortController();
  let restarted = false;
  let downloaded = false;
  try {
    const downloading = downloadTo(
      job,
      device.path,
      { baseOffset: scratchOffset, limit: fileBytes },
      `${device.path}@${scratchOffset}`,
      {
        onData: (chunk) => parked.receive(chunk),
        onWritten: (bytes) => parked.available(bytes),
        onRestart: () => {
          restarted = true;
          parked.fail(new Error('the download started over'));
        },
      },
    );
    // Its progress is reported once the download is complete; until then the download's is.
    const converting = inspectAndConvert(job, parked.spec('qcow2'), device, true, {
      signal: AbortSignal.any([ctx.signal, stop.signal]),
      reportWhen: () => downloaded,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    let download: DownloadResult;
    try {
      download = await downloading;
    } catch (error) {
      parked.fail(error as Error);
      stop.abort(error);
      await converting;
      throw error;
    }
    // Verified and on the device, every byte: no read may wait any longer.
    parked.available(download.bytes);
    downloaded = true;
    progress.stage('converting', { totalBytes: virtualSize });
    progress.written(0);
    const failure = await converting;
    if (failure instanceof InvalidImage) throw failure;
    if (failure === undefined && !restarted) return download;
    ctx.log.warn(
      { image: info.id, restarted, err: failure instanceof Error ? failure.message : failure },
      'converting the verified parked qcow2 again',
    );
    await inspectAndConvert(job, imageAtOffsetSpec('qcow2', device.path, scratchOffset, download.bytes), device, true);
    return download;
  } finally {
    await parked.close();
  }
}

/**
 * The parked copy is dead data once the write succeeded or failed: its header must not be
 * mistaken for anything later. Runs without the step's signal: an abort must not leave it
 * behind.
 */
export async function dropParkedCopy(ctx: DownloadJob['ctx'], device: string, offset: number, bytes: number): Promise<void> {
  const exec = cleanupExec(ctx.exec);
  const length = Math.ceil(bytes / MIB) * MIB;
  await exec('blkdiscard', ['-f', '-o', String(offset), '-l', String(length), device]).catch(async () =>
    // No discard here: at least its header goes. nocreat: a device node that is gone by now
    // (a partition's, removed by udev or partx) must not come back as a regular file in /dev.
    exec('dd', [
      'if=/dev/zero',
      `of=${device}`,
      'bs=1M',
      'count=1',
      `seek=${offset}`,
      'oflag=seek_bytes,direct',
      'conv=notrunc,nocreat',
    ]),
  );
}

async function inspectAndConvert(
  job: DownloadJob,
  source: string,
  device: BlockDevice,
  isBlockDevice: boolean,
  overlapped?: { signal: AbortSignal; reportWhen: () => boolean },
): Promise<void> {
  const { ctx, info, progress } = job;
  if (!overlapped) progress.stage('inspecting');
  const details = await qemuImgInfo(ctx.exec, source, 'qcow2');
  if (details.format !== 'qcow2') throw new InvalidImage(`Image ${info.id} is ${details.format}, not qcow2`);
  assertSafeQemuImage(details, info.id);
  if (details.virtualSize > device.sizeBytes) {
    throw new InvalidImage(
      `Image ${info.id} expands to ${details.virtualSize} bytes, more than the ${device.sizeBytes}-byte device ${device.path}`,
    );
  }
  if (!overlapped) {
    progress.stage('converting', { totalBytes: details.virtualSize });
    progress.written(0);
  }
  // Overlapped, the device was checked before the download started (parkAndConvert).
  if (!overlapped) await ctx.guard.assertWritable(device.path);
  // While it arrives, one window of the disk after the other: qemu-img locates every block
  // of what it converts before it copies any, which over a whole qcow2 waits for the last
  // of its L2 tables (each lies before the 512 MiB of disk it maps, in an image written
  // start to end, as images are), so the conversion would only start near the download's end.
  const windows = overlapped ? convertWindows(details.virtualSize) : [{ offset: 0, size: details.virtualSize }];
  for (const range of windows) {
    await convertToDevice(ctx.exec, source, device.path, isBlockDevice, {
      sourceFormat: 'qcow2',
      onPercent: (percent) => {
        if (!overlapped || overlapped.reportWhen()) progress.written(range.offset + Math.round((percent / 100) * range.size));
      },
      ...(overlapped ? { signal: overlapped.signal, range } : {}),
    });
  }
  progress.written(details.virtualSize);
}

/** The disk in windows of whole L2 tables' reach (64 KiB clusters), at most MAX_WINDOWS of them (a qemu-img each). */
function convertWindows(virtualSize: number): { offset: number; size: number }[] {
  const size = Math.max(1, Math.ceil(virtualSize / MAX_WINDOWS / L2_REACH)) * L2_REACH;
  const windows: { offset: number; size: number }[] = [];
  for (let offset = 0; offset < virtualSize; offset += size) windows.push({ offset, size: Math.min(size, virtualSize - offset) });
  return windows;
}
