/**
 * The public contract for hardware-manager plugins. A plugin (shipped under
 * `hardware-managers/` or a vendor's) imports only from here.
 *
 * @example
 * import { defineHardwareManager, defineStep, HardwareSupport, z } from 'ramdisk-agent/hardware';
 *
 * const flashFirmware = defineStep({
 *   name: 'update_acme_firmware',
 *   clean: { priority: 0, interface: 'deploy', abortable: false },
 *   args: z.object({ url: z.string().url().describe('Firmware bundle URL') }),
 *   async run(ctx, { url }) { ... },
 * });
 *
 * export default defineHardwareManager({
 *   name: 'acme_hardware_manager',
 *   version: '1.0',
 *   evaluateHardwareSupport: async () => HardwareSupport.SERVICE_PROVIDER,
 *   steps: [flashFirmware],
 * });
 */
export { defineHardwareManager, HardwareSupport, CONTRACT_VERSION } from './manager.js';
export type { HardwareManager, HardwareManagerInit, HardwareSupportLevel } from './manager.js';
export { MANAGER_METHOD_NAMES } from './manager-methods.js';
/** The agent's own zod: a plugin's arg schemas use it, so it needs no zod of its own. */
export { z } from 'zod';
export { defineStep, argsinfoFromSchema, stepToWire, STEP_PHASES, AGENT_STEP_INTERFACES, DEPLOY_PRIORITY_RANGE } from './step.js';
export type { StepDefinition, StepDefinitionInit, StepListing, StepPhase, StepInterface, ArgInfo } from './step.js';
export type {
  StepContext,
  IronicNode,
  IronicPort,
  ProgressReporter,
  Exec,
  ManagerContext,
  ManagerMethods,
  ManagerMethodName,
  ManagerMethodArgs,
  ManagerMethodResult,
  ManagerSettings,
  InstallBootloaderParams,
  SoftwareRaidEspInfo,
  SoftwareRaidBiosBootInfo,
  LldpData,
} from './step-context.js';
export type { UsbDevice } from './inspection/usb-devices.js';
export { DEFAULT_HARDWARE_SETTINGS } from './settings.js';
export type { HardwareSettings } from './settings.js';
export { DeviceGuard } from './device-guard.js';
export type { GuardVerdict, GuardRefusal } from './device-guard.js';
export { run as exec, ExecError, hasCommand, cleanupExec, CLEANUP_TIMEOUT_MS } from './exec.js';
export { directIoBuffer, DIRECT_IO_ALIGNMENT } from './direct-io.js';
export { SECRET_FLAGS, REDACTED } from './exec-secrets.js';
export type { ExecOptions, ExecResult } from './exec.js';
export type { Logger } from './logger.js';
export * from './errors.js';
export { listBlockDevices, describeFileDevice, isMounted, probeMissingSignatures } from './block-devices.js';
export { parseLsblkJson } from './lsblk.js';
export type { BlockDevice, ListBlockDevicesOptions } from './block-devices.js';
export { listTargetDisks, applySkipList, skipListHints, skipListVolumeNames, ramdiskMediaReason } from './disk-targets.js';
export type { TargetDisks, SkippedDevice, SkipKind, ListTargetDisksOptions } from './disk-targets.js';
export { examineDevice, parseExamine } from './md-superblock.js';
export type { ExaminedSuperblock } from './md-superblock.js';
export {
  matchesRootDeviceHints,
  findDevicesByHints,
  parseRootDeviceHints,
  selectRootDevice,
  rootDeviceHintsFromNode,
  hintValuesOf,
  InvalidRootDeviceHint,
  MIN_ROOT_DISK_BYTES,
  ROOT_DEVICE_HINT_TYPES,
} from './root-device-hints.js';
export type { RootDeviceHints, ParsedRootDeviceHints, RootDeviceHintName, SelectRootDeviceOptions } from './root-device-hints.js';
export { matchSpec } from './specs-matcher.js';
export * from './image/index.js';
export { nodeBootMode, partitionTableType, ramdiskBootMode } from './boot-mode.js';
export type { BootMode, TableType } from './boot-mode.js';
export type {
  Inventory,
  InventoryInterface,
  InventoryCpu,
  InventoryDisk,
  InventoryMemory,
  InventorySystemVendor,
  InventoryBoot,
} from './inventory/types.js';
export {
  parseSmartctlJson,
  summariseHealth,
  selfTestStatus,
  readSmartctl,
  readDiskHealth,
  describeCriticalWarning,
  DEFAULT_HEALTH_LIMITS,
} from './smart.js';
export type { DiskHealth, HealthLimits, HealthProblem, SelfTestStatus, SmartctlJson } from './smart.js';
