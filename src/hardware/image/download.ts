/**
 * Downloads an image into a sink that hashes what it writes (reference §14.4), with IPA's retry
 * rules made resumable: a connection error, 5xx, stall or truncated body is retried up to
 * `imageDownloadConnectionRetries` times per URL, resuming with `Range` (+ `If-Range`)
 * from the last byte received; a server that ignores Range restarts the image from byte 0.
 * A 4xx is not retried: the next URL is tried, as IPA's `ImageDownload` moves on from any URL
 * that fails to open; URLs are tried in order. A checksum mismatch retries the whole download
 * (IPA does the same) and finally fails naming both checksums.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageChecksumError, ImageDownloadError, isIpaError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { HardwareSettings } from '../settings.js';
import type { ExpectedChecksum } from './checksum.js';
import { DirectResponse, type BodyTarget } from './http-direct.js';
import { describe, FatalDownloadError, redact, type ImageHttpClient } from './http-source.js';
import type { ImageInfo } from './image-info.js';
import type { TransferProgress } from './transfer-progress.js';

/**
 * Where downloaded bytes go: appended in order, hashed by the sink; `restart` goes back to
 * byte 0. A sink with `space`/`commit` (BlockWriter) has plain-HTTP bodies read straight
 * into its buffers instead of handed over in chunks.
 */
export interface ImageSink extends Partial<BodyTarget> {
  write(chunk: Uint8Array): Promise<void>;
  restart(): Promise<void>;
  finish(): Promise<number>;
  /** Digest (the expected checksum's algorithm) of everything written since the last restart. */
  digest(): Promise<string>;
}

export interface DownloadOptions {
  info: ImageInfo;
  client: ImageHttpClient;
  expected: ExpectedChecksum;
  sink: ImageSink;
  settings: HardwareSettings;
  progress: TransferProgress;
  log: Logger;
  signal: AbortSignal;
  /** Named in a checksum error (`location: ...`): the device or scratch area written. */
  location: string;
}

export interface DownloadResult {
  bytes: number;
  checksum: string;
  url: string;
  /** HTTP requests made, including the first. */
  requests: number;
  /** Requests that continued from a byte offset > 0. */
  resumes: number;
  /** Whole downloads (> 1 after a checksum mismatch). */
  rounds: number;
}

export async function downloadImage(options: DownloadOptions): Promise<DownloadResult> {
  const { settings } = options;
  if (settings.imageDownloadMaxDuration <= 0) return downloadRounds(options, options.signal);
  // A controller and a timer we hold, not AbortSignal.timeout(): on Node 20 a timeout
  // signal referenced only through AbortSignal.any() can be collected and never fire.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new Error('image_download_max_duration exceeded')),
    settings.imageDownloadMaxDuration * 1000,
  );
  const forward = () => deadline.abort(options.signal.reason);
  if (options.signal.aborted) forward();
  else options.signal.addEventListener('abort', forward, { once: true });
  try {
    return await downloadRounds(options, deadline.signal);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', forward);
  }
}

async function downloadRounds(options: DownloadOptions, signal: AbortSignal): Promise<DownloadResult> {
  const { settings, log, info, expected } = options;
  const retries = settings.imageDownloadConnectionRetries;
  const counters = { requests: 0, resumes: 0 };
  for (let round = 1; ; round++) {
    if (round > 1) {
      await options.sink.restart();
      options.progress.rewind(0);
    }
    const { bytes, digest, url } = await transferOnce(options, signal, counters);
    if (digest === expected.value) {
      log.info({ image: info.id, bytes, algorithm: expected.algorithm, checksum: digest }, 'image checksum verified');
      return { bytes, checksum: digest, url, ...counters, rounds: round };
    }
    const error = new ImageChecksumError(info.id, options.location, expected.value, digest);
    if (round > retries) throw error;
    log.warn({ image: info.id, expected: expected.value, actual: digest, round }, 'image checksum mismatch; downloading again');
    await pause(settings, signal);
  }
}

async function transferOnce(
  options: DownloadOptions,
  signal: AbortSignal,
  counters: { requests: number; resumes: number },
): Promise<{ bytes: number; digest: string; url: string }> {
  const { info, client, sink, progress, log, settings } = options;
  const retries = settings.imageDownloadConnectionRetries;
  // One line per URL that failed, as IPA's "URL: …; Error: …" details.
  const problems: string[] = [];
  let received = 0;
  let startedFresh = true;

  for (const url of info.urls) {
    let urlProblem = '';
    if (!startedFresh) {
      // A different URL may serve a different entity: start this one from byte 0.
      received = 0;
      await sink.restart();
      progress.rewind(0);
    }
    startedFresh = false;
    let validator: string | undefined;
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      try {
        counters.requests++;
        if (received > 0) counters.resumes++;
        const opened = await client.open(url, { offset: received, validator, signal });
        if (opened.offset === 0 && received > 0) {
          log.warn({ url: redact(url), offset: received }, 'server did not resume the download; starting the image over');
          received = 0;
          await sink.restart();
          progress.rewind(0);
        }
        validator = opened.validator ?? validator;
        const total = opened.totalBytes;
        progress.stage('downloading', { url: redact(url), attempt, totalBytes: total ?? null });
        const onBytes = (bytes: number) => {
          received += bytes;
          progress.downloaded(received);
        };
        if (opened.body instanceof DirectResponse && sink.space && sink.commit) {
          await opened.body.readInto(sink as BodyTarget, onBytes);
        } else {
          for await (const chunk of opened.body as AsyncIterable<Buffer>) {
            await sink.write(chunk);
            onBytes(chunk.length);
          }
        }
        if (total !== undefined && received !== total) {
          throw new Error(`the body ended after ${received} of ${total} bytes`);
        }
        progress.stage('flushing');
        await sink.finish();
        return { bytes: received, digest: await sink.digest(), url };
      } catch (error) {
        if (signal.aborted) {
          const why = options.signal.aborted
            ? describe(options.signal.reason)
            : `it took longer than ${settings.imageDownloadMaxDuration} s`;
          throw new ImageDownloadError(info.id, `download aborted: ${why}`, { cause: error });
        }
        if (isIpaError(error)) throw error;
        if (error instanceof FatalDownloadError) {
          // Asking this URL again would get the same answer; the next one may have the image.
          urlProblem = `${redact(url)}: ${error.message}`;
          log.warn({ url: redact(url), attempt, received, err: error.message }, 'image download failed; trying the next URL');
          break;
        }
        urlProblem = `${redact(url)}: ${describe(error)} (after ${attempt} attempts)`;
        log.warn({ url: redact(url), attempt, received, err: describe(error) }, 'image download attempt failed');
        if (attempt <= retries) await pause(settings, signal);
      }
    }
    problems.push(urlProblem);
  }
  throw new ImageDownloadError(info.id, problems.join('\n ') || 'no URL could be downloaded');
}

async function pause(settings: HardwareSettings, signal: AbortSignal): Promise<void> {
  await sleep(settings.imageDownloadConnectionRetryInterval * 1000, undefined, { signal }).catch(() => undefined);
}
