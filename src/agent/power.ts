/**
 * The one place the agent acts on the machine's power and network (reference §5):
 * `standby.power_off`, `standby.run_image` (reboot), `system.lockdown` (NICs down).
 *
 * `real` (the default only inside a ramdisk): sync, then `poweroff`/`reboot`, falling back
 * to the kernel's sysrq trigger when the init system refuses. `simulate` (the default
 * everywhere else, and what tests and the demo use): nothing is done to the host; the
 * action is recorded and the agent behaves as a machine that went dark: it stops
 * heartbeating and stops answering.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemRebootError } from './errors.js';
import type { DeviceGuard } from '../hardware/device-guard.js';
import type { Logger } from '../hardware/logger.js';
import type { Exec } from '../hardware/step-context.js';

export type PowerMode = 'real' | 'simulate';
export type HostAction = 'power_off' | 'reboot' | 'network_down';

export interface HostActionRecord {
  action: HostAction;
  mode: PowerMode;
  at: string;
  detail?: string;
}

export interface PowerEvents {
  /** The machine is (or, simulated, behaves as) powered off or gone into another OS. */
  halted: [HostActionRecord];
  /** Any recorded action, including `network_down`. */
  action: [HostActionRecord];
}

/** `--power-actions` if given, else `real` only when running from a ramdisk. */
export async function resolvePowerMode(configured: PowerMode | undefined, guard: DeviceGuard, log: Logger): Promise<PowerMode> {
  if (configured) {
    log.info({ powerActions: configured }, `power actions: ${configured} (configured)`);
    return configured;
  }
  const mode: PowerMode = (await guard.inRamdisk()) ? 'real' : 'simulate';
  log.info(
    { powerActions: mode },
    mode === 'real'
      ? 'power actions: real (running from a ramdisk)'
      : 'power actions: simulate (not running from a ramdisk; power off and reboot are only recorded)',
  );
  return mode;
}

export interface PowerActionsOptions {
  mode: PowerMode;
  exec: Exec;
  log: Logger;
  procRoot?: string;
  /** Simulated mode: the directory standing in for `/` for files the agent writes. */
  simulatedRoot?: string | undefined;
}

export class PowerActions extends EventEmitter<PowerEvents> {
  readonly mode: PowerMode;
  readonly #exec: Exec;
  readonly #log: Logger;
  readonly #procRoot: string;
  readonly #history: HostActionRecord[] = [];
  #halted: HostActionRecord | undefined;
  #simulatedRoot: string | undefined;

  constructor(options: PowerActionsOptions) {
    super();
    this.mode = options.mode;
    this.#simulatedRoot = options.simulatedRoot;
    this.#exec = options.exec;
    this.#log = options.log;
    this.#procRoot = options.procRoot ?? '/proc';
  }

  /** Everything done (or simulated), oldest first. */
  get history(): readonly HostActionRecord[] {
    return this.#history;
  }

  /** Set once the machine is powered off or rebooted away from the agent. */
  get halted(): HostActionRecord | undefined {
    return this.#halted;
  }

  /**
   * Where a host file (e.g. `/etc/.rescued`) lives: itself for real, under the simulated
   * root otherwise, so a simulated rescue never edits this machine's /etc.
   */
  hostPath(path: string): string {
    if (this.mode === 'real') return path;
    this.#simulatedRoot ??= mkdtempSync(join(tmpdir(), 'ramdisk-agent-host-'));
    return join(this.#simulatedRoot, path);
  }

  powerOff(): Promise<void> {
    return this.#haltWith('power_off', 'poweroff', 'o');
  }

  reboot(): Promise<void> {
    return this.#haltWith('reboot', 'reboot', 'b');
  }

  /** `system.lockdown`: take every interface down so nothing reaches the ramdisk again. */
  async networkDown(interfaces: readonly string[]): Promise<void> {
    const record = this.#record('network_down', interfaces.join(','));
    if (this.mode === 'simulate') {
      this.#log.warn({ interfaces }, 'SIMULATED: would set these network interfaces down');
      return;
    }
    for (const name of interfaces) {
      try {
        await this.#exec('ip', ['link', 'set', name, 'down'], { timeoutMs: 10_000 });
      } catch (error) {
        this.#log.error({ err: error, interface: name, record }, 'failed to set an interface down');
      }
    }
  }

  #record(action: HostAction, detail?: string): HostActionRecord {
    const record: HostActionRecord = { action, mode: this.mode, at: new Date().toISOString(), ...(detail ? { detail } : {}) };
    this.#history.push(record);
    this.emit('action', record);
    return record;
  }

  async #haltWith(action: 'power_off' | 'reboot', command: string, sysrqKey: 'o' | 'b'): Promise<void> {
    if (this.mode === 'simulate') {
      const record = this.#record(action);
      this.#log.warn({ action }, `SIMULATED ${action}: the host stays up; the agent stops heartbeating and answering`);
      this.#halted = record;
      this.emit('halted', record);
      return;
    }
    const record = this.#record(action);
    this.#log.warn({ action }, `${action}: the machine goes down now`);
    let refused = false;
    try {
      const { stderr } = await this.#exec(command, [], { timeoutMs: 60_000 });
      // systemd in some ramdisks answers "ignoring request" instead of failing.
      refused = stderr.includes('ignoring request');
    } catch (error) {
      this.#log.error({ err: error }, `${command} failed, using the sysrq trigger`);
      refused = true;
    }
    if (refused) {
      try {
        await writeFile(`${this.#procRoot}/sys/kernel/sysrq`, '1').catch(() => undefined);
        await writeFile(`${this.#procRoot}/sysrq-trigger`, sysrqKey);
      } catch (error) {
        throw new SystemRebootError(`${command} was refused and the sysrq trigger failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    this.#halted = record;
    this.emit('halted', record);
  }
}
