/**
 * `command_progress` of the RAID steps, in the device-board shape `ramdisk-agent progress`
 * draws as bars: one entry per array (state, level, resync percent, rate, ETA) and per
 * holder disk. The last snapshot, taken as the step returns, shows where the initial
 * resync stands: it goes on in the kernel after the step.
 */
import type { ProgressReporter } from '../../src/hardware/index.js';
import type { MdstatArray } from './mdstat.js';

export interface ArrayProgress {
  device: string;
  state: string;
  method: string;
  percent: number;
  bytes_done?: number;
  bytes_total?: number;
  rate_bytes_per_second?: number;
  eta_seconds?: number | null;
  error?: string | null;
}

export class RaidProgress {
  readonly #reporter: ProgressReporter;
  readonly #step: string;
  #stage = 'planning';
  readonly #devices = new Map<string, ArrayProgress>();

  constructor(reporter: ProgressReporter, step: string) {
    this.#reporter = reporter;
    this.#step = step;
  }

  stage(stage: string): void {
    this.#stage = stage;
    this.#publish();
  }

  device(device: string, state: string, method: string, percent = 0): void {
    this.#devices.set(device, { device, state, method, percent });
    this.#publish();
  }

  /** Array states from /proc/mdstat: resync percent, rate and ETA, or in sync. */
  arrays(kernel: readonly MdstatArray[]): void {
    for (const [device, entry] of this.#devices) {
      const array = kernel.find((a) => `/dev/${a.name}` === device);
      if (!array) continue;
      if (array.syncAction && array.syncPercent !== null) {
        this.#devices.set(device, {
          ...entry,
          state: array.syncAction,
          percent: array.syncPercent,
          bytes_done: array.syncDoneBytes ?? 0,
          bytes_total: array.syncTotalBytes ?? array.sizeBytes,
          rate_bytes_per_second: array.syncRateBytesPerSecond ?? 0,
          eta_seconds: array.syncEtaSeconds,
        });
      } else if (array.syncPending) {
        this.#devices.set(device, { ...entry, state: `${array.syncAction ?? 'resync'} pending`, percent: 0 });
      } else {
        this.#devices.set(device, { ...entry, state: array.state === 'active' ? 'in sync' : array.state, percent: 100 });
      }
    }
    this.#publish();
  }

  #publish(): void {
    const devices = [...this.#devices.values()];
    const percent = devices.length === 0 ? 0 : devices.reduce((sum, d) => sum + d.percent, 0) / devices.length;
    this.#reporter.update({
      step: this.#step,
      stage: this.#stage,
      overall: { percent: Math.round(percent * 10) / 10 },
      devices,
    });
  }
}
