/**
 * One device, one method: chooses how to erase a device (read-only probes only, so that a
 * dry run can show the same choice), then erases it and verifies the result.
 *
 * erase_devices follows IPA's order: NVMe format, else ATA secure erase, else overwrite;
 * a failed secure erase falls through to overwrite only with
 * agent_continue_if_secure_erase_failed. erase_devices_express, as IPA's: NVMe format, else
 * (and after a failed format) the metadata erase.
 */
import {
  BlockDeviceEraseError,
  HardwareManagerMethodNotFound,
  IncompatibleHardwareMethodError,
  type BlockDevice,
  type StepContext,
} from '../../src/hardware/index.js';
import { ataSecureErase, probeAtaSecurity, type AtaSecurity } from './ata.js';
import { destroyDiskMetadata, dropKernelPartitions } from './metadata.js';
import { nvmeFormat, probeNvmeFormat, type NamespaceSiblings } from './nvme.js';
import { overwrite, overwritePasses, type OverwritePlan } from './overwrite.js';
import type { ProgressBoard } from './progress.js';
import type { EraseSettings } from './settings.js';
import { verifyNoSignatures, verifyZeroed, type VerifyOutcome } from './verify.js';

export type EraseMethod =
  /** `formatsController`: the format erases every namespace of that controller; run once for all. */
  | { kind: 'nvme_format'; ses: 1 | 2; formatsController?: string | undefined }
  | { kind: 'ata_secure_erase'; security: AtaSecurity }
  | { kind: 'overwrite'; plan: OverwritePlan }
  | { kind: 'metadata' };

export interface MethodChoice {
  method: EraseMethod;
  /** Methods considered first and why they were not used. */
  notUsed: { method: string; reason: string }[];
  /** When the chosen hardware method fails, what runs instead (erase_devices only). */
  fallback?: EraseMethod;
}

export function methodName(method: EraseMethod): string {
  switch (method.kind) {
    case 'nvme_format':
      return method.ses === 2 ? 'nvme_format_crypto_erase' : 'nvme_format_user_data_erase';
    case 'ata_secure_erase':
      return method.security.enhancedErase ? 'ata_enhanced_secure_erase' : 'ata_secure_erase';
    case 'overwrite':
      return method.plan.randomPasses > 0 ? (method.plan.zeroPass ? 'shred_then_zero' : 'shred') : 'zero';
    default:
      return method.kind;
  }
}

/** Passes over the whole device: the metadata erase touches only a few sectors. */
function passesOf(method: EraseMethod): number {
  if (method.kind === 'overwrite') return overwritePasses(method.plan);
  return method.kind === 'metadata' ? 0 : 1;
}

function overwritePlanFrom(settings: EraseSettings): OverwritePlan {
  return { randomPasses: settings.iterations, zeroPass: settings.zeroize };
}

/**
 * agent_erase_devices_iterations 0 with agent_erase_devices_zeroize false: an overwrite writes
 * nothing (IPA's `shred --iterations 0` succeeds having written nothing). Refused, before
 * anything is written, only where the overwrite would run: as the method, or as the fallback
 * of a secure erase; a disk a secure erase alone erases is erased, as IPA erases it.
 */
function emptyOverwrite(device: BlockDevice, role: string, notUsed: MethodChoice['notUsed']): BlockDeviceEraseError {
  const why = notUsed.map(({ method, reason }) => `${method}: ${reason}`).join('; ');
  return new BlockDeviceEraseError(
    `Refusing to erase ${device.path}: agent_erase_devices_iterations is 0 and agent_erase_devices_zeroize is false, ` +
      `so the overwrite, ${role}, would write nothing${why ? ` (${why})` : ''}`,
  );
}

export async function chooseFullEraseMethod(
  ctx: StepContext,
  device: BlockDevice,
  settings: EraseSettings,
  siblings?: NamespaceSiblings,
): Promise<MethodChoice> {
  const notUsed: MethodChoice['notUsed'] = [];
  const plan = overwritePlanFrom(settings);
  const overwriteMethod: EraseMethod = { kind: 'overwrite', plan };
  const overwriteWritesNothing = overwritePasses(plan) === 0;
  const secureErase = (method: EraseMethod): MethodChoice => {
    if (!settings.continueIfSecureEraseFailed) return { method, notUsed };
    if (overwriteWritesNothing) {
      throw emptyOverwrite(device, 'the fallback of a failed secure erase (agent_continue_if_secure_erase_failed)', []);
    }
    return { method, notUsed, fallback: overwriteMethod };
  };
  const isBlock = device.type !== 'file';

  if (!settings.enableNvmeSecureErase)
    notUsed.push({ method: 'nvme_format', reason: 'disabled (agent_enable_nvme_secure_erase)' });
  else if (!isBlock) notUsed.push({ method: 'nvme_format', reason: 'a plain file' });
  else {
    const nvme = await probeNvmeFormat(ctx, device.path, siblings);
    if (nvme.usable) return secureErase({ kind: 'nvme_format', ses: nvme.ses, formatsController: nvme.formatsController });
    notUsed.push({ method: 'nvme_format', reason: nvme.reason });
  }

  if (!settings.enableAtaSecureErase)
    notUsed.push({ method: 'ata_secure_erase', reason: 'disabled (agent_enable_ata_secure_erase)' });
  else if (!isBlock) notUsed.push({ method: 'ata_secure_erase', reason: 'a plain file' });
  else if (device.path.startsWith('/dev/nvme')) notUsed.push({ method: 'ata_secure_erase', reason: 'an NVMe device' });
  else if (device.type === 'loop') notUsed.push({ method: 'ata_secure_erase', reason: 'a loop device (no drive behind it)' });
  else {
    const ata = await probeAtaSecurity(ctx, device.path);
    if (ata.usable) return secureErase({ kind: 'ata_secure_erase', security: ata.security });
    notUsed.push({ method: 'ata_secure_erase', reason: ata.reason });
  }
  if (overwriteWritesNothing) throw emptyOverwrite(device, 'the only method left', notUsed);
  return { method: overwriteMethod, notUsed };
}

/**
 * IPA's erase_devices_express: NVMe format where it applies, else the metadata erase, which is
 * also the fallback of a failed format. Discard and write-zeroes offloads are not used: on a
 * SAS disk, WRITE SAME is a full-media write taking hours, and the kernel has reported no
 * discard as zeroing (DISC-ZERO) since Linux 4.12.
 */
export async function chooseExpressMethod(
  ctx: StepContext,
  device: BlockDevice,
  settings: EraseSettings,
  siblings?: NamespaceSiblings,
): Promise<MethodChoice> {
  const notUsed: MethodChoice['notUsed'] = [];
  const metadata: EraseMethod = { kind: 'metadata' };
  if (device.type === 'file') notUsed.push({ method: 'nvme_format', reason: 'a plain file' });
  else if (!settings.enableNvmeSecureErase)
    notUsed.push({ method: 'nvme_format', reason: 'disabled (agent_enable_nvme_secure_erase)' });
  else {
    const nvme = await probeNvmeFormat(ctx, device.path, siblings);
    if (nvme.usable) {
      const method: EraseMethod = { kind: 'nvme_format', ses: nvme.ses, formatsController: nvme.formatsController };
      return { method, notUsed, fallback: metadata };
    }
    notUsed.push({ method: 'nvme_format', reason: nvme.reason });
  }
  return { method: metadata, notUsed };
}

export interface DeviceReport {
  device: string;
  size_bytes: number;
  method: string;
  methods_not_used: { method: string; reason: string }[];
  passes: number;
  bytes_written: number;
  started_at: string;
  finished_at: string;
  /** Whole device: erase plus verification. */
  duration_seconds: number;
  /** The erase method alone (including a fallback after a failed secure erase). */
  erase_seconds: number;
  verify_seconds: number;
  verify: VerifyOutcome;
}

/** Formats that erase a whole controller's namespaces, by controller: the first namespace starts it, the others wait for it. */
export type ControllerFormats = Map<string, Promise<void>>;

async function runMethod(
  ctx: StepContext,
  device: BlockDevice,
  method: EraseMethod,
  board: ProgressBoard,
  controllerFormats: ControllerFormats,
): Promise<void> {
  switch (method.kind) {
    case 'nvme_format': {
      if (!method.formatsController) return nvmeFormat(ctx, device.path, method.ses);
      let format = controllerFormats.get(method.formatsController);
      if (format) ctx.log.info({ device: device.path }, 'erased by the format of another namespace of the controller');
      else {
        format = nvmeFormat(ctx, device.path, method.ses);
        controllerFormats.set(method.formatsController, format);
      }
      await format;
      return;
    }
    case 'ata_secure_erase':
      await ataSecureErase(ctx, device.path, method.security);
      return;
    case 'overwrite':
      await overwrite(ctx, device, method.plan, board);
      return;
    case 'metadata':
      await destroyDiskMetadata(ctx, device);
      return;
  }
}

/** What proves the method worked: zeros where the method guarantees them, else no signature. */
async function verifyAfter(ctx: StepContext, device: BlockDevice, method: EraseMethod): Promise<VerifyOutcome> {
  const endsInZeros = method.kind === 'overwrite' && method.plan.zeroPass;
  return endsInZeros ? verifyZeroed(ctx, device) : verifyNoSignatures(ctx, device);
}

/**
 * Erase one device with the chosen method (and its fallback), verify, and report. Throws
 * IPA's errors: a failed secure erase without fallback is `IncompatibleHardwareMethodError`;
 * a failed verify is `BlockDeviceEraseError`; an aborted or timed-out one its `ExecError`.
 */
/**
 * IPA's extension point: erase_devices dispatches `erase_block_device(node, device)` to the
 * managers, so a vendor manager can erase its own drives its own way; here as
 * `erase_block_device(ctx, device)`, the node being `ctx.node`. True when some manager did; false when none offers it or all declined
 * (IncompatibleHardwareMethodError), and the generic methods apply.
 */
async function eraseWithOtherManager(ctx: StepContext, device: BlockDevice): Promise<boolean> {
  try {
    await ctx.dispatch('erase_block_device', ctx, device);
    return true;
  } catch (error) {
    if (HardwareManagerMethodNotFound.is(error)) return false;
    throw error;
  }
}

export interface EraseDeviceOptions {
  /** erase_devices: let another manager's erase_block_device handle the device first. */
  offerToOtherManagers?: boolean;
  /** Shared by the devices of one step, so that a controller-wide format runs once. */
  controllerFormats?: ControllerFormats;
}

export async function eraseDevice(
  ctx: StepContext,
  device: BlockDevice,
  choice: MethodChoice,
  board: ProgressBoard,
  options: EraseDeviceOptions = {},
): Promise<DeviceReport> {
  const started = Date.now();
  const controllerFormats = options.controllerFormats ?? new Map<string, Promise<void>>();
  const notUsed = [...choice.notUsed];
  let method = choice.method;
  if (options.offerToOtherManagers) {
    board.start(device.path, 'erase_block_device', 1);
    if (await eraseWithOtherManager(ctx, device)) {
      ctx.log.info({ device: device.path }, 'erased by another hardware manager (erase_block_device)');
      const generic = [{ method: methodName(method), reason: 'another hardware manager erased the device (erase_block_device)' }];
      return finishReport(ctx, device, { kind: 'delegated' }, generic, board, started, Date.now());
    }
  }
  board.start(device.path, methodName(method), passesOf(method));
  ctx.log.info({ device: device.path, method: methodName(method) }, 'erasing device');
  try {
    await runMethod(ctx, device, method, board, controllerFormats);
  } catch (error) {
    const hardware = method.kind === 'nvme_format' || method.kind === 'ata_secure_erase';
    // An abort or a timeout is neither "unsupported" nor a reason to start overwriting: the
    // erase's own ExecError comes through as it is (nvme.ts, ata.ts), and after an abort any
    // failure (a probe or password command refused) is the abort's.
    if (!hardware || ctx.signal.aborted || !BlockDeviceEraseError.is(error)) throw error;
    if (!choice.fallback) {
      throw new IncompatibleHardwareMethodError(
        `${error.details}. Set agent_continue_if_secure_erase_failed ([deploy]continue_if_disk_secure_erase_fails) to fall back to an overwrite.`,
      );
    }
    ctx.log.warn({ device: device.path, err: error }, 'secure erase failed; falling back');
    notUsed.push({ method: methodName(method), reason: `failed: ${error.details}` });
    method = choice.fallback;
    board.start(device.path, methodName(method), passesOf(method));
    await runMethod(ctx, device, method, board, controllerFormats);
  }
  return finishReport(ctx, device, method, notUsed, board, started, Date.now());
}

async function finishReport(
  ctx: StepContext,
  device: BlockDevice,
  method: EraseMethod | { kind: 'delegated' },
  notUsed: { method: string; reason: string }[],
  board: ProgressBoard,
  started: number,
  erased: number,
): Promise<DeviceReport> {
  await dropKernelPartitions(ctx, device);
  board.verifying(device.path);
  // Another manager's erase promises nothing about the content but that data is gone.
  const verify = method.kind === 'delegated' ? await verifyNoSignatures(ctx, device) : await verifyAfter(ctx, device, method);
  const name = method.kind === 'delegated' ? 'erase_block_device' : methodName(method);
  if (!verify.passed) {
    throw new BlockDeviceEraseError(`Verification after ${name} of ${device.path} failed: ${verify.problem}`);
  }
  const finished = Date.now();
  const writes = method.kind === 'overwrite' ? overwritePasses(method.plan) : 0;
  return {
    device: device.path,
    size_bytes: device.sizeBytes,
    method: name,
    methods_not_used: notUsed,
    passes: method.kind === 'delegated' ? 1 : passesOf(method),
    bytes_written: writes * device.sizeBytes,
    started_at: new Date(started).toISOString(),
    finished_at: new Date(finished).toISOString(),
    duration_seconds: (finished - started) / 1000,
    erase_seconds: (erased - started) / 1000,
    verify_seconds: (finished - erased) / 1000,
    verify,
  };
}
