/** Downloading an image into the device, a spot on it or a scratch file, hashed as it is written. */
import {
  BlockWriter,
  type BlockHasher,
  createBlockHasher,
  DEFAULT_HARDWARE_SETTINGS,
  downloadImage,
  type DownloadResult,
  type ImageHttpClient,
  type ImageInfo,
  type ImageSink,
  type resolveExpectedChecksum,
  type StepContext,
  type TransferProgress,
  WorkerHasher,
} from '../../src/hardware/index.js';

/** What every download of one image shares, whatever it is written to. */
export interface DownloadJob {
  ctx: StepContext;
  info: ImageInfo;
  client: ImageHttpClient;
  expected: Awaited<ReturnType<typeof resolveExpectedChecksum>>;
  progress: TransferProgress;
  settings: typeof DEFAULT_HARDWARE_SETTINGS;
}

export interface DownloadWatch {
  /**
   * The next bytes of the image, in order, as they are handed to the target (and hashed);
   * a promise holds the download back until it settles.
   */
  onData?: (chunk: Uint8Array) => void | Promise<void>;
  /** The first `bytes` of the image are on the target. */
  onWritten?: (bytes: number) => void;
  /** The download started over from byte 0 (a checksum mismatch, a server ignoring Range). */
  onRestart?: () => void;
}

/** Download the image into `target` (the device, a spot on it, or a scratch file), hashing as it goes. */
export async function downloadTo(
  job: DownloadJob,
  target: string,
  region: { baseOffset?: number; limit: number },
  location = target,
  watch: DownloadWatch = {},
): Promise<DownloadResult> {
  const { ctx, info, client, expected, progress, settings } = job;
  const writer = await BlockWriter.open(target, {
    ...region,
    onWritten: (bytes) => {
      progress.written(bytes);
      watch.onWritten?.(bytes);
    },
    hasher: hasherFor(info, expected.algorithm),
  });
  ctx.log.debug({ target, offset: region.baseOffset ?? 0, directIo: writer.direct }, 'download target opened');
  const sink: ImageSink = {
    write: async (chunk) => {
      await watch.onData?.(chunk);
      await writer.write(chunk);
    },
    space: () => writer.space(),
    commit: (bytes) => {
      // The reader filled the writer's buffer in place: these are the bytes it writes.
      const held = watch.onData?.(writer.space().subarray(0, bytes));
      return held ? held.then(() => writer.commit(bytes)) : writer.commit(bytes);
    },
    restart: async () => {
      watch.onRestart?.();
      await writer.restart();
    },
    finish: () => writer.finish(),
    digest: () => writer.digest(),
  };
  try {
    return await downloadImage({
      info,
      client,
      expected,
      sink,
      settings,
      progress,
      log: ctx.log,
      signal: ctx.signal,
      location,
    });
  } finally {
    await writer.close();
  }
}

/**
 * Over TLS the event loop also decrypts (~1.6 s of CPU per GiB here): hashing in a worker
 * splits the work over two threads even on two cores, where plain HTTP leaves the loop
 * little else to do and hashing inline measured as fast.
 */
export function hasherFor(info: ImageInfo, algorithm: string): BlockHasher {
  return info.urls.some((url) => url.startsWith('https:')) ? new WorkerHasher(algorithm) : createBlockHasher(algorithm);
}
