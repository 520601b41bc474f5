/**
 * What a step receives besides its args: the node and ports Ironic sent, and the agent's
 * services (logging, progress, cancellation, the device guard, the exec wrapper); and the
 * well-known methods one manager offers and others (or the agent) dispatch to by name, as
 * IPA's `dispatch_to_managers` does: the highest-support manager that has the method
 * answers; `IncompatibleHardwareMethodError` passes it on to the next one.
 *
 * Every method takes a context first (IPA passes `self` and reaches the node through a
 * global; here the context carries the node, the logger, exec and the device guard). A method
 * a step dispatches gets a `StepContext`; one the agent calls outside any step (inventory,
 * LLDP, USB devices, sync, partition UUIDs) gets a `ManagerContext`.
 */
import type { BlockDevice } from './block-devices.js';
import type { DeviceGuard } from './device-guard.js';
import type { Exec } from './exec.js';
import type { UsbDevice } from './inspection/usb-devices.js';
import type { Inventory } from './inventory/types.js';
import type { Logger } from './logger.js';
import type { HardwareSettings } from './settings.js';

export type { Exec };

/** Ironic's node as sent to the agent (`node.as_dict(secure=True)`); only a few keys are typed. */
export interface IronicNode {
  uuid?: string;
  name?: string | null;
  properties?: Record<string, unknown>;
  instance_info?: Record<string, unknown>;
  driver_info?: Record<string, unknown>;
  driver_internal_info?: Record<string, unknown>;
  target_raid_config?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IronicPort {
  address?: string;
  [key: string]: unknown;
}

/** Live progress of a long step, shown as `command_progress` while the command runs. */
export interface ProgressReporter {
  /** Replace the progress object; it must be JSON-serialisable. */
  update(progress: Record<string, unknown>): void;
}

export interface StepContext {
  node: IronicNode;
  ports: IronicPort[];
  phase: 'clean' | 'deploy' | 'service';
  log: Logger;
  progress: ProgressReporter;
  /** Aborted when the agent shuts down; long work should pass it on to `exec`. */
  signal: AbortSignal;
  guard: DeviceGuard;
  exec: Exec;
  /** The agent's settings hardware code reads (download retries, md5, TLS); IPA's defaults when absent. */
  settings?: HardwareSettings;
  /** The running manager's own settings (`hardware_managers.<name>` in the config file), validated by its `settings` schema. */
  managerSettings?: ManagerSettings;
  /**
   * Call a well-known manager method on the highest-support manager that has it, as IPA's
   * `dispatch_to_managers` does; the arguments are the method's own, context first.
   */
  dispatch<K extends ManagerMethodName>(method: K, ...args: ManagerMethodArgs<K>): Promise<ManagerMethodResult<K>>;
}

/** What a manager gets outside a step: at start-up, and for the methods the agent calls itself. */
export interface ManagerContext {
  log: Logger;
  exec: Exec;
  guard: DeviceGuard;
  /** This manager's own settings (`hardware_managers.<name>`), as in `StepContext`. */
  managerSettings?: ManagerSettings;
}

/** A manager's settings after its `settings` schema: defaults applied, unknown keys refused. */
export type ManagerSettings = Readonly<Record<string, unknown>>;

type Returns<T> = T | Promise<T>;

/** `image.install_bootloader` as Ironic sends it (after `write_image`, UEFI whole-disk images). */
export interface InstallBootloaderParams {
  root_uuid?: string | null | undefined;
  efi_system_part_uuid?: string | null | undefined;
  prep_boot_part_uuid?: string | null | undefined;
  target_boot_mode?: 'uefi' | 'bios' | null | undefined;
  ignore_bootloader_failure?: boolean | null | undefined;
}

/** An ESP mirrored over the holder disks of a software RAID root volume. */
export interface SoftwareRaidEspInfo {
  /** The md device of the mirrored ESP. */
  device: string;
  /** One ESP partition per holder disk: the disk, the partition number and its device node. */
  members: { disk: string; number: number; node: string }[];
}

/** The holder disks of a software RAID root volume made ready for a BIOS bootloader. */
export interface SoftwareRaidBiosBootInfo {
  /** The root array's holder disks: the bootloader goes to each. */
  holders: string[];
  /** BIOS boot partitions made on GPT holders (none on MBR holders). */
  biosBootPartitions: string[];
  /**
   * The UUIDs (mdadm's form, `b1022a62:e0a45820:…`) of the machine's arrays, for an image
   * whose initramfs (dracut) assembles only the arrays named by `rd.md.uuid=`. Since 2.8.0.
   */
  arrayUuids?: string[];
}

/** LLDP TLVs per interface name: `[type, hex of the value]`, as IPA's `collect_lldp_data`. */
export type LldpData = Record<string, Array<[number, string]>>;

/**
 * Declared as function-typed properties (not methods) so that TypeScript checks the parameter
 * order strictly: an implementation written with the context last does not compile.
 */
export interface ManagerMethods {
  /**
   * IPA's `erase_block_device(node, block_device)`: erase one device your way, or decline it
   * with `IncompatibleHardwareMethodError` so the next manager (finally the generic eraser's
   * own methods) does. The node is `ctx.node`. Called by `erase_devices` for every disk.
   */
  erase_block_device?: (ctx: StepContext, device: BlockDevice) => Returns<unknown>;
  /**
   * IPA's `list_hardware_info()`. IPA's generic manager builds the inventory itself; here the
   * agent collects it and hands it in, and the manager returns it with its additions.
   */
  list_hardware_info?: (ctx: ManagerContext, inventory: Inventory) => Returns<Inventory>;
  /** IPA's `get_os_install_device()`: the device path the image goes to. */
  get_os_install_device?: (ctx: StepContext) => Returns<string>;
  /** IPA's `collect_lldp_data(interface_names)`; every LLDP-capable interface when no names are given. */
  collect_lldp_data?: (ctx: ManagerContext, interfaceNames?: readonly string[]) => Returns<LldpData>;
  /** IPA's `get_usb_devices()` (the `usb-devices` inspection collector). */
  get_usb_devices?: (ctx: ManagerContext) => Returns<UsbDevice[]>;
  /**
   * IPA's `collect_system_logs(io_dict, file_list)`, dispatched to every manager when the log
   * bundle is made (`log.collect_system_logs`, the inspection `logs` collector): your own
   * diagnostics (a controller's event log, a vendor tool's output) as `{name: content}`, each
   * name a relative path inside the bundle (`vendor/raid-events.txt`), up to 4095 bytes
   * (before 2.12.0, 100). Since 2.9.0.
   */
  collect_system_logs?: (ctx: ManagerContext) => Returns<Record<string, string | Uint8Array>>;
  /** IPA's `full_sync()`, dispatched to every manager before the power goes: flush your caches. */
  full_sync?: (ctx: ManagerContext) => Returns<void>;
  /**
   * `standby.prepare_image` (IPA does this in the standby extension, not in a manager; here a
   * manager does it so a vendor can replace the image writer). `message` is the command's result.
   */
  prepare_image?: (ctx: StepContext, imageInfo: unknown, configdrive: string | null) => Returns<{ message: string }>;
  /** `standby.get_partition_uuids`: the UUIDs the last image write left. */
  get_partition_uuids?: (ctx: ManagerContext) => Returns<object>;
  /** `image.install_bootloader` (IPA: the image extension); the result is the command's result. */
  install_bootloader?: (ctx: StepContext, params: InstallBootloaderParams) => Returns<object>;
  /** The software RAID root volume (IPA finds it inside `get_os_install_device`), if there is one. */
  software_raid_root_device?: (ctx: StepContext) => Returns<string | undefined>;
  /** Mirror an ESP over the holders of a software RAID root volume (IPA's `prepare_boot_partitions_for_softraid`). */
  prepare_software_raid_esp?: (ctx: StepContext, rootDevice: string, imageEsp: string | null) => Returns<SoftwareRaidEspInfo>;
  /** Restart a software RAID root volume and give its GPT holders BIOS boot partitions (the BIOS half of the same IPA function). */
  prepare_software_raid_bios_boot?: (ctx: StepContext, rootDevice: string) => Returns<SoftwareRaidBiosBootInfo>;
}

export type ManagerMethodName = keyof ManagerMethods;
/** The arguments of a method, context first, exactly as dispatch passes them on. */
export type ManagerMethodArgs<K extends ManagerMethodName> = Parameters<NonNullable<ManagerMethods[K]>>;
export type ManagerMethodResult<K extends ManagerMethodName> = Awaited<ReturnType<NonNullable<ManagerMethods[K]>>>;
