/**
 * An agent that stopped serving for good (rescued, locked down, a lookup that gave no token)
 * keeps its process up, as IPA loops forever "to avoid a service restart": the ramdisk's init
 * starts an agent that exits again, and that one would reload every manager on the tenant's
 * machine, or look the node up with its interfaces down. Only close() (SIGTERM) ends it.
 * IPA itself exits once after finalize_rescue and stays up only when restarted into the
 * marker; this agent stays up at once, so there is no restart at all.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../shared/logger.js';
import type { PowerActions } from './power.js';

/** The tick of the timer that holds the process (IPA sleeps 100 s a turn). */
const TICK_MS = 100_000;

export class ProcessHold {
  #timer: NodeJS.Timeout | undefined;
  #released = false;

  constructor(private readonly log: Logger) {}

  /** Keeps the process up until release(); once is enough, after release() never again. */
  hold(reason: string): void {
    if (this.#timer || this.#released) return;
    this.log.info({ reason }, 'not serving: looping forever to avoid a service restart');
    this.#timer = setInterval(() => undefined, TICK_MS);
  }

  release(): void {
    this.#released = true;
    clearInterval(this.#timer);
  }
}

/**
 * IPA's `/etc/.rescued` check at start: true when rescue.finalize_rescue ran on this machine,
 * and the agent must then never serve again (reference §5). A simulated host without a
 * configured root starts fresh: there is no marker to find.
 */
export function foundRescueMarker(power: PowerActions, simulatedHostRoot: string | undefined, log: Logger): boolean {
  if (power.mode !== 'real' && !simulatedHostRoot) return false;
  const marker = power.hostPath('/etc/.rescued');
  if (!existsSync(marker)) return false;
  log.warn(
    { marker },
    'Found rescue state marker file, locking down the agent in disabled mode: not serving the API, not heartbeating',
  );
  return true;
}
