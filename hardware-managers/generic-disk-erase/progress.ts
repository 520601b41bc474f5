/**
 * Live progress of an erase step, published as the command's `command_progress`:
 * per device the method, pass, bytes done/total, rate and ETA; overall bytes and percent.
 * Tools report at their own pace; publishing is throttled so that a fast tool cannot
 * flood the agent.
 */
import type { ProgressReporter } from '../../src/hardware/index.js';

type DeviceState = 'pending' | 'running' | 'verifying' | 'done' | 'failed';

interface DeviceProgress {
  device: string;
  state: DeviceState;
  method: string | null;
  /** 1-based pass being written, and how many passes the method makes. */
  pass: number;
  passes: number;
  /** Bytes of the device to write per pass. */
  sizeBytes: number;
  /** Bytes written over all passes so far. */
  bytesDone: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  error: string | null;
}

const PUBLISH_INTERVAL_MS = 200;

export class ProgressBoard {
  readonly #devices = new Map<string, DeviceProgress>();
  readonly #reporter: ProgressReporter;
  readonly #step: string;
  readonly #skipped: { device: string; reason: string }[];
  #lastPublish = 0;
  #pending: NodeJS.Timeout | undefined;

  constructor(
    reporter: ProgressReporter,
    step: string,
    devices: { path: string; sizeBytes: number }[],
    skipped: { device: string; reason: string }[],
  ) {
    this.#reporter = reporter;
    this.#step = step;
    this.#skipped = skipped;
    for (const { path, sizeBytes } of devices) {
      this.#devices.set(path, {
        device: path,
        state: 'pending',
        method: null,
        pass: 0,
        passes: 0,
        sizeBytes,
        bytesDone: 0,
        startedAtMs: null,
        finishedAtMs: null,
        error: null,
      });
    }
    this.publish(true);
  }

  /** A device starts a method that writes `passes` times its size. */
  start(device: string, method: string, passes: number): void {
    const entry = this.#entry(device);
    entry.state = 'running';
    entry.method = method;
    entry.passes = passes;
    entry.pass = passes > 0 ? 1 : 0;
    entry.bytesDone = 0;
    entry.startedAtMs ??= Date.now();
    this.publish(true);
  }

  /** Bytes written in the current pass (1-based). */
  advance(device: string, pass: number, bytesInPass: number): void {
    const entry = this.#entry(device);
    entry.pass = Math.min(Math.max(pass, 1), Math.max(entry.passes, 1));
    entry.bytesDone = (entry.pass - 1) * entry.sizeBytes + Math.min(bytesInPass, entry.sizeBytes);
    this.publish(false);
  }

  verifying(device: string): void {
    const entry = this.#entry(device);
    entry.state = 'verifying';
    entry.bytesDone = entry.passes * entry.sizeBytes;
    this.publish(true);
  }

  finish(device: string, error?: string): void {
    const entry = this.#entry(device);
    entry.state = error ? 'failed' : 'done';
    entry.error = error ?? null;
    entry.finishedAtMs = Date.now();
    if (!error) entry.bytesDone = entry.passes * entry.sizeBytes;
    this.publish(true);
  }

  /** Flush what is pending; call when the step ends. */
  close(): void {
    if (this.#pending) clearTimeout(this.#pending);
    this.#pending = undefined;
    this.#reporter.update(this.snapshot());
  }

  publish(immediately: boolean): void {
    const now = Date.now();
    if (immediately || now - this.#lastPublish >= PUBLISH_INTERVAL_MS) {
      if (this.#pending) clearTimeout(this.#pending);
      this.#pending = undefined;
      this.#lastPublish = now;
      this.#reporter.update(this.snapshot());
    } else if (!this.#pending) {
      this.#pending = setTimeout(() => this.publish(true), PUBLISH_INTERVAL_MS - (now - this.#lastPublish));
      this.#pending.unref();
    }
  }

  snapshot(): Record<string, unknown> {
    const now = Date.now();
    const devices = [...this.#devices.values()].map((d) => {
      const total = d.passes * d.sizeBytes;
      const elapsedS = d.startedAtMs === null ? 0 : ((d.finishedAtMs ?? now) - d.startedAtMs) / 1000;
      const rate = elapsedS > 0 ? d.bytesDone / elapsedS : 0;
      const remaining = Math.max(total - d.bytesDone, 0);
      return {
        device: d.device,
        state: d.state,
        method: d.method,
        pass: d.pass,
        passes: d.passes,
        bytes_done: d.bytesDone,
        bytes_total: total,
        percent: total > 0 ? round1((100 * d.bytesDone) / total) : d.state === 'done' ? 100 : 0,
        rate_bytes_per_second: Math.round(rate),
        eta_seconds: d.state === 'running' && rate > 0 ? Math.ceil(remaining / rate) : d.state === 'done' ? 0 : null,
        started_at: d.startedAtMs === null ? null : new Date(d.startedAtMs).toISOString(),
        finished_at: d.finishedAtMs === null ? null : new Date(d.finishedAtMs).toISOString(),
        error: d.error,
      };
    });
    const bytesTotal = devices.reduce((sum, d) => sum + d.bytes_total, 0);
    const bytesDone = devices.reduce((sum, d) => sum + d.bytes_done, 0);
    const finished = devices.filter((d) => d.state === 'done' || d.state === 'failed').length;
    const overallRate = devices.reduce((sum, d) => sum + (d.state === 'running' ? d.rate_bytes_per_second : 0), 0);
    return {
      step: this.#step,
      overall: {
        devices: devices.length,
        finished,
        bytes_done: bytesDone,
        bytes_total: bytesTotal,
        percent: bytesTotal > 0 ? round1((100 * bytesDone) / bytesTotal) : devices.length === finished ? 100 : 0,
        rate_bytes_per_second: overallRate,
        eta_seconds: overallRate > 0 ? Math.ceil((bytesTotal - bytesDone) / overallRate) : null,
      },
      devices,
      skipped: this.#skipped,
    };
  }

  #entry(device: string): DeviceProgress {
    const entry = this.#devices.get(device);
    if (!entry) throw new Error(`no progress entry for ${device}`);
    return entry;
  }
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
