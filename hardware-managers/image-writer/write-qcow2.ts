/**
 * qcow2 images (reference §14.5 B): parked at the END of the target disk while being hashed,
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

const MIB = 1024 * 1024;
/** Room left between the converted image's end and the parked qcow2 (alignment, GPT backup). */
const SCRATCH_MARGIN = 4 * MIB;

export type Qcow2WriteMethod = 'qcow2-in-place' | 'qcow2-scratch-file';

export async function writeQcow2(
  job: DownloadJob,
  device: BlockDevice,
  isBlockDevice: boolean,
  format: { totalBytes: number | undefined; virtualSize: number | undefined },
): Promise<{ download: DownloadResult; method: Qcow2WriteMethod }> {
  const { ctx, info } = job;
  const fileBytes = format.totalBytes;
  const virtualSize = format.virtualSize ?? 0;
  if (virtualSize > device.sizeBytes) {
    throw new InvalidImage(
      `Image ${info.id} expands to ${virtualSize} bytes, more than the ${device.sizeBytes}-byte device ${device.path}`,
    );
  }
  const scratchOffset = fileBytes === undefined ? -1 : Math.floor((device.sizeBytes - fileBytes - SCRATCH_MARGIN) / MIB) * MIB;
  if (isBlockDevice && fileBytes !== undefined && scratchOffset >= virtualSize) {
    const download = await parkAndConvert(job, device, { scratchOffset, fileBytes, virtualSize });
    // The parked copy is dead data now: its header must not be mistaken for anything later.
    await ctx
      .exec('blkdiscard', ['-f', '-o', String(scratchOffset), '-l', String(Math.ceil(download.bytes / MIB) * MIB), device.path])
      .catch(async () =>
        ctx.exec('dd', [
          'if=/dev/zero',
          `of=${device.path}`,
          'bs=1M',
          'count=1',
          `seek=${scratchOffset}`,
          'oflag=seek_bytes,direct',
          'conv=notrunc',
        ]),
      );
    return { download, method: 'qcow2-in-place' };
  }

  // The disk cannot hold both at once (or the server gave no size): spool to a scratch file.
  const dir = tmpdir();
  const room = await statfs(dir).then((s) => s.bavail * s.bsize);
  if (fileBytes !== undefined && fileBytes + SCRATCH_MARGIN > room) {
    throw new ImageDownloadOutofSpaceError(
      info.id,
      `the ${fileBytes}-byte qcow2 fits neither beside its ${virtualSize}-byte expansion on ${device.path} (${device.sizeBytes} bytes) ` +
        `nor in ${dir} (${room} bytes free)`,
    );
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
  const parked = await GrowingImageExport.start(device.path, scratchOffset, fileBytes);
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
  await ctx.guard.assertWritable(device.path);
  await convertToDevice(ctx.exec, source, device.path, isBlockDevice, {
    sourceFormat: 'qcow2',
    onPercent: (percent) => {
      if (!overlapped || overlapped.reportWhen()) progress.written(Math.round((percent / 100) * details.virtualSize));
    },
    ...(overlapped ? { signal: overlapped.signal } : {}),
  });
  progress.written(details.virtualSize);
}
