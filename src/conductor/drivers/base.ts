/**
 * Driver interfaces (`ironic/drivers/base.py`): each collects the steps its methods declare
 * with `@cleanStep` / `@deployStep` / `@verifyStep` and runs them by name. Power, management,
 * boot, BIOS, RAID and deploy are the interfaces the clean and deploy machinery queries
 * (reference §2.1).
 */
import type { Logger } from '../../shared/logger.js';
import type { AgentClient } from '../agent-client.js';
import type { ConductorConf } from '../conf.js';
import { declaredSteps, type StepDeclaration } from '../decorators.js';
import { InvalidParameterValue } from '../errors.js';
import type { Node, Port } from '../node.js';
import type { PowerState, ProvisionEvent, ProvisionState, StepReturn } from '../states.js';
import type { ArgsInfo, Step, StepType } from '../step-types.js';
import { validateRaidConfiguration } from './raid-config.js';

/**
 * What drivers and the step machinery reach of the conductor (`task.conductor`): its
 * configuration, log and agent client. Narrow on purpose: a driver never reaches the store,
 * the locks or the step loops through it, so drivers do not depend on the conductor.
 */
export interface ConductorHost {
  readonly conf: ConductorConf;
  readonly log: Logger;
  /** The shared `AgentClient` (one TLS/connection cache for all nodes). */
  readonly agentClient: AgentClient;
  /** Where ramdisk logs collected on failure go (`[agent]deploy_logs_local_path`). */
  readonly deployLogsDir: string | undefined;
  /** `notify_conductor_resume_clean/deploy`: continue a parked node in a new task. */
  resume(uuid: string, type: 'clean' | 'deploy'): void;
}

/**
 * One unit of work on one node under its lock, as driver interfaces and step loops receive
 * it (Ironic's `task`); `TaskManager` in task.ts implements it.
 */
export interface Task {
  readonly node: Node;
  ports: Port[];
  readonly driver: Driver;
  readonly purpose: string;
  readonly conductor: ConductorHost;
  readonly shared: boolean;
  /** `task.cached_agent_client` (`agent_client.get_client`). */
  cachedAgentClient: AgentClient | undefined;
  /** Turn a shared task into an exclusive one (`task.upgrade_lock()`). */
  upgradeLock(options?: { purpose?: string; retry?: boolean }): Promise<void>;
  /** Run `fn` with this task's lock once the current handler is done (`spawn_after`). */
  spawnAfter(fn: (task: Task) => Promise<void>): void;
  /** End the task: start spawned workers (they inherit the lock) or release the lock. */
  release(): void;
  /** Advance the provision state machine (`task.process_event`) and save. */
  processEvent(event: ProvisionEvent, options?: { targetState?: ProvisionState; lastError?: string | null }): void;
  /** `task.resume_cleaning()`: CLEANWAIT → CLEANING keeping a manual clean's MANAGEABLE target. */
  resumeCleaning(): void;
}

/** The interface instances one node uses (`task.driver`), from its `*_interface` fields. */
export interface Driver {
  deploy: DeployInterface;
  power: PowerInterface;
  management: ManagementInterface;
  boot: BootInterface;
  bios: BIOSInterface;
  raid: RAIDInterface;
}

type InterfaceType = 'deploy' | 'boot' | 'power' | 'management' | 'bios' | 'raid' | 'base';

function toStepDict(declaration: StepDeclaration, interfaceType: string): Step {
  const step: Step = {
    step: declaration.name,
    priority: declaration.priority,
    argsinfo: declaration.argsinfo,
    interface: interfaceType,
  };
  if (declaration.type === 'clean') {
    step.abortable = declaration.abortable ?? false;
    step.requires_ramdisk = declaration.requiresRamdisk ?? true;
  }
  if (declaration.type === 'verify') delete step.argsinfo;
  return step;
}

export abstract class BaseInterface {
  /** Ironic's `interface_type`; every step dict carries it as `interface`. */
  abstract readonly interfaceType: InterfaceType;
  #declarations: StepDeclaration[] | undefined;

  get #all(): StepDeclaration[] {
    return (this.#declarations ??= declaredSteps(this));
  }

  /** All declared clean steps, enabled and disabled, unordered (`self.clean_steps`). */
  get cleanSteps(): Step[] {
    return this.#all.filter((d) => d.type === 'clean').map((d) => toStepDict(d, this.interfaceType));
  }

  get deploySteps(): Step[] {
    return this.#all.filter((d) => d.type === 'deploy').map((d) => toStepDict(d, this.interfaceType));
  }

  get verifySteps(): Step[] {
    return this.#all.filter((d) => d.type === 'verify').map((d) => toStepDict(d, this.interfaceType));
  }

  /** Check the node has what this interface needs; raise InvalidParameterValue if not. */
  validate(_task: Task): void | Promise<void> {}

  getCleanSteps(_task: Task): Step[] | Promise<Step[]> {
    return this.cleanSteps;
  }

  getDeploySteps(_task: Task): Step[] | Promise<Step[]> {
    return this.deploySteps;
  }

  getVerifySteps(_task: Task): Step[] | Promise<Step[]> {
    return this.verifySteps;
  }

  executeCleanStep(task: Task, step: Step): Promise<StepReturn> {
    return this.executeStep(task, step, 'clean');
  }

  executeDeployStep(task: Task, step: Step): Promise<StepReturn> {
    return this.executeStep(task, step, 'deploy');
  }

  executeVerifyStep(task: Task, step: Step): Promise<StepReturn> {
    return this.executeStep(task, step, 'verify');
  }

  /** `_execute_step`: `getattr(self, step['step'])(task, **step['args'])`. */
  protected async executeStep(task: Task, step: Step, type: StepType): Promise<StepReturn> {
    const declaration =
      this.#all.find((d) => d.name === step.step && d.type === type) ?? this.#all.find((d) => d.name === step.step);
    const method = declaration?.method ?? step.step;
    const fn = (this as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') {
      // The interface type, not the class name: the shipped bundle is minified without keepNames.
      throw new InvalidParameterValue(`the ${this.interfaceType} interface has no ${type} step "${step.step}"`);
    }
    const args = step.args;
    return (await (args !== undefined && args !== null ? fn.call(this, task, args) : fn.call(this, task))) as StepReturn;
  }
}

export abstract class DeployInterface extends BaseInterface {
  readonly interfaceType = 'deploy' as const;
  /** Prepare the node for deployment (power off, network, ramdisk). */
  prepare(_task: Task): void | Promise<void> {}
  /** Clean up after a deployment (or a failed one). */
  cleanUp(_task: Task): void | Promise<void> {}
  /** Boot whatever cleaning needs; CLEANWAIT means "the agent will call back". */
  prepareCleaning(_task: Task): StepReturn | Promise<StepReturn> {
    return undefined;
  }
  tearDownCleaning(_task: Task): void | Promise<void> {}
  /** Agent heartbeat, for interfaces that talk to an agent. */
  heartbeat(_task: Task, _callbackUrl: string, _agentVersion: string | null, _extra: HeartbeatExtra): void | Promise<void> {}
}

export interface HeartbeatExtra {
  agentVerifyCa?: string | null;
  agentStatus?: string | null;
  agentStatusMessage?: string | null;
}

export abstract class PowerInterface extends BaseInterface {
  readonly interfaceType = 'power' as const;
  abstract getPowerState(task: Task): PowerState | Promise<PowerState>;
  abstract setPowerState(task: Task, state: PowerState, timeoutS?: number): void | Promise<void>;
  abstract reboot(task: Task, timeoutS?: number): void | Promise<void>;
  getSupportedPowerStates(_task: Task): PowerState[] {
    return ['power on', 'power off', 'rebooting'];
  }
}

export abstract class ManagementInterface extends BaseInterface {
  readonly interfaceType = 'management' as const;
  abstract getSupportedBootDevices(task: Task): string[];
  abstract setBootDevice(task: Task, device: string, persistent?: boolean): void | Promise<void>;
}

export abstract class BootInterface extends BaseInterface {
  readonly interfaceType = 'boot' as const;
  prepareRamdisk(_task: Task, _ramdiskParams: Record<string, unknown>): void | Promise<void> {}
  cleanUpRamdisk(_task: Task): void | Promise<void> {}
  prepareInstance(_task: Task): void | Promise<void> {}
  cleanUpInstance(_task: Task): void | Promise<void> {}
}

export abstract class BIOSInterface extends BaseInterface {
  readonly interfaceType = 'bios' as const;
  abstract applyConfiguration(
    task: Task,
    args: { settings: Array<{ name: string; value: unknown }> },
  ): StepReturn | Promise<StepReturn>;
  abstract factoryReset(task: Task): StepReturn | Promise<StepReturn>;
  /** Store the BIOS settings read from the node (Ironic keeps them in its database). */
  abstract cacheBiosSettings(task: Task): void | Promise<void>;
}

/**
 * `@base.cache_bios_settings`: run the step, then refresh the cached BIOS settings; the
 * step's own result (also a wait state) is returned.
 */
export function cacheBiosSettings<This extends BIOSInterface, A extends unknown[], R>(
  fn: (this: This, task: Task, ...rest: A) => R,
  _context?: ClassMethodDecoratorContext,
): (this: This, task: Task, ...rest: A) => Promise<Awaited<R>> {
  const wrapped = async function (this: This, task: Task, ...rest: A): Promise<Awaited<R>> {
    const result = await fn.call(this, task, ...rest);
    await this.cacheBiosSettings(task);
    return result;
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}

export const RAID_APPLY_CONFIGURATION_ARGSINFO = {
  raid_config: { description: 'The RAID configuration to apply.', required: true },
  create_root_volume: {
    description:
      "Setting this to 'False' indicates not to create root volume that is specified in 'raid_config'. Default value is 'True'.",
    required: false,
  },
  create_nonroot_volumes: {
    description:
      "Setting this to 'False' indicates not to create non-root volumes (all except the root volume) in 'raid_config'. Default value is 'True'.",
    required: false,
  },
  delete_existing: {
    description:
      "Setting this to 'True' indicates to delete existing RAID configuration prior to creating the new configuration. Default value is 'True'.",
    required: false,
  },
} satisfies ArgsInfo;

export interface RaidCreateArgs {
  create_root_volume?: boolean;
  create_nonroot_volumes?: boolean;
  delete_existing?: boolean;
}

export interface RaidApplyArgs extends RaidCreateArgs {
  raid_config: Record<string, unknown>;
}

export abstract class RAIDInterface extends BaseInterface {
  readonly interfaceType = 'raid' as const;

  override async validate(task: Task): Promise<void> {
    const target = task.node.targetRaidConfig;
    if (target && Object.keys(target).length > 0) this.validateRaidConfig(task, target);
  }

  validateRaidConfig(_task: Task, raidConfig: unknown): void {
    validateRaidConfiguration(raidConfig);
  }

  abstract createConfiguration(task: Task, args?: RaidCreateArgs): StepReturn | Promise<StepReturn>;
  abstract deleteConfiguration(task: Task): StepReturn | Promise<StepReturn>;

  /**
   * Deliberately not a step here (as in Ironic): validates, stores `target_raid_config`, then
   * calls `createConfiguration`. Subclasses expose it with
   * `@deployStep({ priority: 0, argsinfo: RAID_APPLY_CONFIGURATION_ARGSINFO })`.
   */
  async applyConfiguration(task: Task, args: RaidApplyArgs): Promise<StepReturn> {
    const { raid_config, create_root_volume = true, create_nonroot_volumes = true, delete_existing = true } = args;
    this.validateRaidConfig(task, raid_config);
    task.node.targetRaidConfig = raid_config;
    task.node.save();
    return this.createConfiguration(task, { create_root_volume, create_nonroot_volumes, delete_existing });
  }
}
