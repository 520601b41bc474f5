/**
 * `defineHardwareManager`: the default export of every plugin under `hardware-managers/`
 * (shipped or a vendor's). A manager says how well it supports this machine and carries
 * steps and, optionally, other methods other managers can dispatch to by name.
 */
import type { StepDefinition } from './step.js';
import { isStepDefinition } from './step.js';
import type { Logger } from './logger.js';
import type { DeviceGuard } from './device-guard.js';
import type { Exec } from './step-context.js';

/** IPA's levels; a manager may return a higher number to win over SERVICE_PROVIDER. */
export const HardwareSupport = {
  NONE: 0,
  GENERIC: 1,
  MAINLINE: 2,
  SERVICE_PROVIDER: 3,
} as const;
export type HardwareSupportLevel = number;

/** The version of this contract; plugins declare a semver range of it they were written for. */
export const CONTRACT_VERSION = '1.0.0';

export interface ManagerContext {
  log: Logger;
  exec: Exec;
  guard: DeviceGuard;
}

export type ManagerMethod = (...args: any[]) => unknown;

export interface HardwareManagerInit {
  /** Key of `hardware_manager_version` (IPA: `generic_hardware_manager`). */
  name: string;
  /** Compared verbatim by Ironic between listing and running steps; bump it when steps change. */
  version: string;
  /** Key under which `get_*_steps` lists this manager's steps (IPA: the class name). Defaults to `name`. */
  className?: string;
  /** Semver range of `CONTRACT_VERSION` this manager was written against (default `^1.0.0`). */
  contract?: string;
  evaluateHardwareSupport(ctx: ManagerContext): Promise<HardwareSupportLevel> | HardwareSupportLevel;
  /** Runs once after loading, in support order (IPA's `initialize`). */
  initialize?(ctx: ManagerContext): Promise<void> | void;
  steps?: readonly StepDefinition<any, any>[];
  /** Other dispatchable methods (e.g. `erase_block_device`), called by name. */
  methods?: Readonly<Record<string, ManagerMethod>>;
}

const kManager = Symbol.for('ramdisk-agent.HardwareManager');

export interface HardwareManager extends Readonly<Omit<HardwareManagerInit, 'className' | 'contract' | 'steps' | 'methods'>> {
  readonly [kManager]: true;
  readonly className: string;
  readonly contract: string;
  readonly steps: readonly StepDefinition<any, any>[];
  readonly methods: Readonly<Record<string, ManagerMethod>>;
}

export function isHardwareManager(value: unknown): value is HardwareManager {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kManager] === true;
}

export function defineHardwareManager(init: HardwareManagerInit): HardwareManager {
  if (!init.name || typeof init.name !== 'string') throw new TypeError('A hardware manager needs a name');
  if (!init.version || typeof init.version !== 'string') {
    throw new TypeError(`Hardware manager "${init.name}" needs a version string`);
  }
  if (typeof init.evaluateHardwareSupport !== 'function') {
    throw new TypeError(`Hardware manager "${init.name}" needs evaluateHardwareSupport()`);
  }
  const steps = init.steps ?? [];
  const seen = new Set<string>();
  for (const step of steps) {
    if (!isStepDefinition(step)) {
      throw new TypeError(`Hardware manager "${init.name}": every entry of steps must come from defineStep()`);
    }
    if (seen.has(step.name)) {
      throw new TypeError(`Hardware manager "${init.name}" declares step "${step.name}" twice`);
    }
    seen.add(step.name);
  }
  return Object.freeze({
    ...init,
    [kManager]: true as const,
    className: init.className ?? init.name,
    contract: init.contract ?? '^1.0.0',
    steps: Object.freeze([...steps]),
    methods: Object.freeze({ ...(init.methods ?? {}) }),
  });
}
