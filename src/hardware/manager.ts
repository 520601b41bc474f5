/**
 * `defineHardwareManager`: the default export of every plugin under `hardware-managers/`
 * (shipped or a vendor's). A manager says how well it supports this machine and carries
 * steps and, optionally, other methods other managers can dispatch to by name.
 */
import type { z } from 'zod';
import { assertStepList, type StepDefinition } from './step.js';
import { isManagerMethodName, MANAGER_METHOD_NAMES } from './manager-methods.js';
import type { IronicNode, IronicPort, ManagerContext, ManagerMethods } from './step-context.js';

/** IPA's levels; a manager may return a higher number to win over SERVICE_PROVIDER. */
export const HardwareSupport = {
  NONE: 0,
  GENERIC: 1,
  MAINLINE: 2,
  SERVICE_PROVIDER: 3,
} as const;
export type HardwareSupportLevel = number;

/**
 * The version of this contract; plugins declare a semver range of it they were written for.
 * 2.0.0: the cross-manager methods became one typed set (`ManagerMethods`), context first.
 * 2.1.0: `getSteps(ctx, node, ports)`, steps per node.
 * 2.2.0: `settings`, a manager's own config section, seen as `ctx.managerSettings`.
 * 2.3.0: `prepare_software_raid_bios_boot` (`SoftwareRaidBiosBootInfo`); the
 *        `enableBiosBootloaderInstall` setting.
 * 2.4.0: `ConvertOptions.range` (convert one window of an image as it arrives).
 * 2.5.0: `BlockWriter.seek` (a writer that places pieces at their own offsets: a qcow2's clusters).
 * 2.6.0: `directIoBuffer` and `DIRECT_IO_ALIGNMENT` (memory for O_DIRECT I/O on a block device).
 * 2.7.0: the `permittedImageFormats` and `disableDeepImageInspection` settings; `cleanupExec`
 *   and `CLEANUP_TIMEOUT_MS`; `SkipKind` (`SkippedDevice.kind`).
 * 2.8.0: `BlockDevice.allSerials` and `allWwns` (every serial and WWN lsblk and udev give,
 *   which root device hints match, as IPA's `all_serial_and_wwn`); `findPartitionByUuid`,
 *   `parseBootRecords` (`BootRecord`) and `SoftwareRaidBiosBootInfo.arrayUuids`;
 *   `ExecOptions.cwd`; `examineDevice` and `parseExamine` (`ExaminedSuperblock`).
 * 2.9.0: the `collect_system_logs` manager method (IPA's hook: a manager's own entries in the
 *   log bundle).
 * 2.10.0: a step runs only in the phases it is offered for, and the manager whose step the
 *   listing shows runs it (at equal support: higher priority, then class name), where it ran on
 *   the highest-support manager with a step of that name, in any phase, ties in load order;
 *   IncompatibleHardwareMethodError once the command was aborted ends a dispatch; getSteps
 *   declining with it lists the static steps, no problem reported.
 * 2.11.0: `HardwareSettings.diskWaitAttempts` and `diskWaitDelay` (IPA's disk_wait_attempts
 *   and disk_wait_delay), which the image writer waits for a late root device by.
 * 2.12.0: no export changed: `collect_system_logs` entry names past 100 bytes (up to a path's
 *   4095) reach the log bundle whole, with a PAX header, where they were left out; a manager
 *   whose className a manager loaded before it has is refused at load (results keyed by
 *   class name hid one of them).
 * 2.13.0: `ImageInfo`'s partition image keys (root_mb, swap_mb, ephemeral_mb,
 *   ephemeral_format, preserve_ephemeral), which `validateImageInfo` checks for image_type
 *   "partition" instead of refusing it; `nodeBootMode`, `ramdiskBootMode`,
 *   `partitionTableType` (`BootMode`, `TableType`): IPA's boot mode and table type of a node.
 * 2.14.0: `loadConfigDrive`'s optional `maxBytes` (default the 64 MiB cap; null: none, for a
 *   partition image's config drive, as IPA's work_on_disk).
 * 2.15.0: `InventoryDisk.model` is `string | null`: null where lsblk has no model, as IPA
 *   sends it (was `''`); a manager's `list_hardware_info` sees what Ironic will. Minor, not
 *   major: the inventory is IPA's, whose managers have always received None there, and a
 *   major would refuse every plugin declaring ^2.
 */
export const CONTRACT_VERSION = '2.15.0';

/** The range a manager that declares none is taken to be written for: this contract's major. */
const DEFAULT_CONTRACT_RANGE = `^${CONTRACT_VERSION.split('.')[0]}.0.0`;

export interface HardwareManagerInit {
  /** Key of `hardware_manager_version` (IPA: `generic_hardware_manager`). */
  name: string;
  /** Compared verbatim by Ironic between listing and running steps; bump it when steps change. */
  version: string;
  /**
   * Key under which `get_*_steps` lists this manager's steps and `collect_system_logs` results
   * are gathered (IPA: the class name). Defaults to `name`. Unique among the loaded managers:
   * a manager whose class name one loaded before it has is refused (since 2.12.0).
   */
  className?: string;
  /**
   * Semver range of `CONTRACT_VERSION` this manager was written against; an agent whose
   * contract is outside it refuses to load the manager. Default: the agent's own major
   * (right for managers built in the agent's tree; a vendor's should say what it was built on).
   */
  contract?: string;
  evaluateHardwareSupport(ctx: ManagerContext): Promise<HardwareSupportLevel> | HardwareSupportLevel;
  /** Runs once after loading, in support order (IPA's `initialize`). */
  initialize?(ctx: ManagerContext): Promise<void> | void;
  /**
   * The manager's own settings, read from the agent's config file under
   * `hardware_managers.<name>` and handed to its steps, methods, `getSteps`, `initialize` and
   * `evaluateHardwareSupport` as `ctx.managerSettings`: defaults applied, unknown keys and
   * invalid values refused (the manager is then skipped and reported).
   */
  settings?: z.ZodObject<z.ZodRawShape>;
  steps?: readonly StepDefinition<any, any>[];
  /**
   * Steps for one node, beside the static `steps` (IPA's `get_clean_steps(node, ports)`,
   * `get_deploy_steps`, `get_service_steps`): asked on every `get_*_steps` and again before
   * one of them runs, with the node and ports Ironic sent. Each must come from `defineStep`
   * (same rules as `steps`), names unique across both lists. A throw, a bad list or no
   * answer within `hardware_manager_start_timeout` leaves this manager's steps out of that
   * listing, reported in `hardware_manager_problems`; the other managers' are listed. Throwing
   * `IncompatibleHardwareMethodError` means "none for this node": only `steps` are listed.
   */
  getSteps?(
    ctx: ManagerContext,
    node: IronicNode,
    ports: readonly IronicPort[],
  ): Promise<readonly StepDefinition<any, any>[]> | readonly StepDefinition<any, any>[];
  /** Well-known methods other managers and the agent dispatch to by name (e.g. `erase_block_device`), context first. */
  methods?: Readonly<ManagerMethods>;
}

const kManager = Symbol.for('ramdisk-agent.HardwareManager');

export interface HardwareManager extends Readonly<Omit<HardwareManagerInit, 'className' | 'contract' | 'steps' | 'methods'>> {
  readonly [kManager]: true;
  readonly className: string;
  readonly contract: string;
  readonly steps: readonly StepDefinition<any, any>[];
  readonly methods: Readonly<ManagerMethods>;
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
  assertStepList(`Hardware manager "${init.name}"`, steps);
  if (init.settings !== undefined && !isZodObject(init.settings)) {
    throw new TypeError(`Hardware manager "${init.name}": settings must be a z.object({...}) from ramdisk-agent/hardware's z`);
  }
  if (init.getSteps !== undefined && typeof init.getSteps !== 'function') {
    throw new TypeError(`Hardware manager "${init.name}": getSteps must be a function`);
  }
  for (const [method, fn] of Object.entries(init.methods ?? {})) {
    if (!isManagerMethodName(method)) {
      throw new TypeError(
        `Hardware manager "${init.name}": methods.${method} is not a well-known method (${MANAGER_METHOD_NAMES.join(', ')})`,
      );
    }
    if (typeof fn !== 'function') throw new TypeError(`Hardware manager "${init.name}": methods.${method} is not a function`);
  }
  return Object.freeze({
    ...init,
    [kManager]: true as const,
    className: init.className ?? init.name,
    contract: init.contract ?? DEFAULT_CONTRACT_RANGE,
    steps: Object.freeze([...steps]),
    methods: Object.freeze({ ...(init.methods ?? {}) }),
  });
}

function isZodObject(value: unknown): value is z.ZodObject<z.ZodRawShape> {
  const schema = value as { shape?: unknown; safeParse?: unknown; strict?: unknown } | null;
  return (
    typeof schema === 'object' &&
    schema !== null &&
    typeof schema.shape === 'object' &&
    typeof schema.safeParse === 'function' &&
    typeof schema.strict === 'function'
  );
}
