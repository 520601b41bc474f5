/**
 * Heartbeat scheduling (reference §12.4): the first heartbeat at once; then every
 * `heartbeat_timeout × U(0.3, 0.6)` after a success and `5 × U(1, 2)` s after a failure.
 * `force()` (an async command ended) sends one as soon as 5 s have passed since the
 * previous one, so bursts of short commands coalesce.
 */
import { EventEmitter } from 'node:events';
import { isIpaError } from '../../hardware/errors.js';
import type { Logger } from '../../hardware/logger.js';

export interface HeartbeaterOptions {
  /** Sends one heartbeat; throws on failure. */
  send: () => Promise<void>;
  /** Seconds, from the lookup. */
  heartbeatTimeout: () => number;
  log: Logger;
  /** IPA's coalescing window for forced heartbeats. */
  minForcedGapMs?: number;
  random?: () => number;
}

export interface HeartbeatOutcome {
  ok: boolean;
  at: number;
  error?: unknown;
}

export interface HeartbeaterEvents {
  heartbeat: [HeartbeatOutcome];
}

const DEFAULT_MIN_FORCED_GAP_MS = 5_000;

export class Heartbeater extends EventEmitter<HeartbeaterEvents> {
  readonly #options: HeartbeaterOptions;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #nextAt = Infinity;
  #lastBeatAt = -Infinity;
  #running = false;
  #inFlight: Promise<void> | undefined;
  #forcePending = false;

  constructor(options: HeartbeaterOptions) {
    super();
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stop scheduling; a heartbeat already on the wire finishes. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clear();
    await this.#inFlight;
  }

  /** Send a heartbeat soon: at once if 5 s have passed since the last one, else then. */
  force(): void {
    if (!this.#running) return;
    if (this.#inFlight) {
      this.#forcePending = true;
      return;
    }
    const delay = Math.max(0, this.#lastBeatAt + this.#minGap() - Date.now());
    if (Date.now() + delay < this.#nextAt) this.#schedule(delay);
  }

  #minGap(): number {
    return this.#options.minForcedGapMs ?? DEFAULT_MIN_FORCED_GAP_MS;
  }

  #clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = Infinity;
  }

  #schedule(delayMs: number): void {
    this.#clear();
    if (!this.#running) return;
    this.#nextAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => void this.#beat(), delayMs);
    // The HTTP server keeps the process alive; a pending heartbeat should not.
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    this.#timer = undefined;
    this.#nextAt = Infinity;
    if (!this.#running) return;
    let done!: () => void;
    this.#inFlight = new Promise((resolve) => (done = resolve));
    let nextMs: number;
    const at = Date.now();
    try {
      await this.#options.send();
      nextMs = this.#options.heartbeatTimeout() * 1000 * (0.3 + 0.3 * this.#random());
      this.#options.log.debug({ nextInSeconds: Math.round(nextMs / 100) / 10 }, 'heartbeat sent');
      this.emit('heartbeat', { ok: true, at });
    } catch (error) {
      nextMs = 5_000 * (1 + this.#random());
      const conflict = isIpaError(error) && error.code === 409;
      this.#options.log[conflict ? 'warn' : 'error'](
        { err: error, retryInSeconds: Math.round(nextMs / 100) / 10 },
        conflict ? 'heartbeat conflict (node locked), retrying' : 'error heartbeating to the conductor',
      );
      this.emit('heartbeat', { ok: false, at, error });
    } finally {
      this.#lastBeatAt = Date.now();
      this.#inFlight = undefined;
      done();
    }
    if (this.#forcePending) {
      this.#forcePending = false;
      nextMs = Math.min(nextMs, this.#minGap());
    }
    this.#schedule(nextMs);
  }
}
