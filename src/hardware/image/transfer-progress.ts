/**
 * Live progress of an image write, as `command_progress`: bytes downloaded and written,
 * the rate over the last few seconds and the time left. Updates are throttled so a fast
 * stream does not rebuild the progress object for every 64 KiB chunk.
 */
import type { ProgressReporter } from '../step-context.js';

const UPDATE_INTERVAL_MS = 250;
const RATE_WINDOW_MS = 3000;

export interface TransferSnapshot {
  stage: string;
  image_id: string;
  device: string;
  url?: string;
  attempt?: number;
  bytes_downloaded: number;
  bytes_written: number;
  total_bytes: number | null;
  percent: number | null;
  rate_bytes_per_second: number;
  eta_seconds: number | null;
  elapsed_seconds: number;
}

export class TransferProgress {
  readonly #reporter: ProgressReporter;
  readonly #started = performance.now();
  readonly #samples: { at: number; bytes: number }[] = [];
  #lastUpdate = 0;
  #state: Omit<TransferSnapshot, 'percent' | 'rate_bytes_per_second' | 'eta_seconds' | 'elapsed_seconds'>;

  constructor(reporter: ProgressReporter, init: { imageId: string; device: string; stage: string }) {
    this.#reporter = reporter;
    this.#state = {
      stage: init.stage,
      image_id: init.imageId,
      device: init.device,
      bytes_downloaded: 0,
      bytes_written: 0,
      total_bytes: null,
    };
    this.flush();
  }

  stage(stage: string, extra: { url?: string; attempt?: number; totalBytes?: number | null } = {}): void {
    this.#state.stage = stage;
    if (extra.url !== undefined) this.#state.url = extra.url;
    if (extra.attempt !== undefined) this.#state.attempt = extra.attempt;
    if (extra.totalBytes !== undefined) this.#state.total_bytes = extra.totalBytes;
    this.flush();
  }

  totalBytes(total: number | null): void {
    this.#state.total_bytes = total;
  }

  /** A download restarted from `offset` (a resume, or 0 after the server ignored Range). */
  rewind(offset: number): void {
    this.#state.bytes_downloaded = offset;
    this.#state.bytes_written = Math.min(this.#state.bytes_written, offset);
    this.#samples.length = 0;
    this.flush();
  }

  downloaded(bytes: number): void {
    this.#state.bytes_downloaded = bytes;
    this.#maybeFlush();
  }

  written(bytes: number): void {
    this.#state.bytes_written = bytes;
    this.#maybeFlush();
  }

  /** The progress object as published; also records a rate sample. */
  #snapshot(): TransferSnapshot {
    const now = performance.now();
    const { bytes_written: written, total_bytes: total } = this.#state;
    this.#samples.push({ at: now, bytes: written });
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > RATE_WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const span = (now - first.at) / 1000;
    const rate = span > 0.2 ? (written - first.bytes) / span : written / Math.max((now - this.#started) / 1000, 0.001);
    const remaining = total === null ? null : Math.max(total - written, 0);
    return {
      ...this.#state,
      percent: total ? Math.min(100, Math.round((written / total) * 1000) / 10) : null,
      rate_bytes_per_second: Math.round(rate),
      eta_seconds: remaining === null || rate <= 0 ? null : Math.round(remaining / rate),
      elapsed_seconds: Math.round((now - this.#started) / 100) / 10,
    };
  }

  flush(): void {
    this.#lastUpdate = performance.now();
    this.#reporter.update({ ...this.#snapshot() });
  }

  #maybeFlush(): void {
    if (performance.now() - this.#lastUpdate >= UPDATE_INTERVAL_MS) this.flush();
  }
}
