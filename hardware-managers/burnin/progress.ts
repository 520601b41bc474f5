/**
 * Live `command_progress` of a burn-in: the phase, elapsed against planned time, one entry
 * per part (a disk, a stressor, a network direction) with its latest figures, and the
 * machine's temperatures. Published once a second (and at once on a phase change), so a
 * tool reporting fast cannot flood the agent; temperatures are re-read every 5 s.
 */
import type { ProgressReporter } from '../../src/hardware/index.js';
import { readTemperatures, type TemperatureReading } from './temperatures.js';

const PUBLISH_INTERVAL_MS = 1_000;
const TEMPERATURE_INTERVAL_MS = 5_000;

export class BurninProgress {
  readonly #reporter: ProgressReporter;
  readonly #step: string;
  readonly #startedAt = Date.now();
  readonly #sysRoot: string | undefined;
  #phase = 'starting';
  #plannedSeconds: number | null = null;
  #parts: Record<string, Record<string, unknown>> = {};
  #temperatures: TemperatureReading[] = [];
  #temperaturesReadAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(reporter: ProgressReporter, step: string, options: { sysRoot?: string } = {}) {
    this.#reporter = reporter;
    this.#step = step;
    this.#sysRoot = options.sysRoot;
    this.#timer = setInterval(() => void this.#tick(), PUBLISH_INTERVAL_MS);
    this.#timer.unref();
    void this.#tick();
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.#startedAt) / 1000;
  }

  /** A new phase (publishes at once); `plannedSeconds` null when the length is not known in advance. */
  phase(name: string, plannedSeconds?: number | null): void {
    this.#phase = name;
    if (plannedSeconds !== undefined) this.#plannedSeconds = plannedSeconds;
    this.#publish();
  }

  /** Replace one part's figures (published with the next tick). */
  part(name: string, figures: Record<string, unknown>): void {
    this.#parts[name] = figures;
  }

  /** Stop ticking and publish the final state. */
  close(phase: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#phase = phase;
    this.#publish();
  }

  snapshot(): Record<string, unknown> {
    const elapsed = Math.round(this.elapsedSeconds * 10) / 10;
    const planned = this.#plannedSeconds;
    return {
      step: this.#step,
      phase: this.#phase,
      started_at: new Date(this.#startedAt).toISOString(),
      elapsed_seconds: elapsed,
      planned_seconds: planned,
      percent: planned && planned > 0 ? Math.min(100, Math.round((1000 * elapsed) / planned) / 10) : null,
      parts: this.#parts,
      temperatures: this.#temperatures,
    };
  }

  #publish(): void {
    this.#reporter.update(this.snapshot());
  }

  async #tick(): Promise<void> {
    if (Date.now() - this.#temperaturesReadAt >= TEMPERATURE_INTERVAL_MS) {
      this.#temperaturesReadAt = Date.now();
      this.#temperatures = await readTemperatures(this.#sysRoot).catch(() => this.#temperatures);
    }
    if (this.#timer) this.#publish();
  }
}
