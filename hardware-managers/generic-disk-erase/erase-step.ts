/**
 * The shape every erase step shares: plan (with skips), dry run, then the devices erased
 * in parallel (bounded by disk_erasure_concurrency, default all at once) with live
 * progress, and a report per device. A failure on one device does not stop the others;
 * the step fails afterwards naming every failed device.
 */
import {
  BlockDeviceEraseError,
  describeError,
  IncompatibleHardwareMethodError,
  isIpaError,
  type BlockDevice,
  type StepContext,
} from '../../src/hardware/index.js';
import { eraseDevice, methodName, type ControllerFormats, type DeviceReport, type MethodChoice } from './device-eraser.js';
import { namespaceSiblings, type NamespaceSiblings } from './nvme.js';
import { planErase, type PlanOptions, type SkippedEntry } from './plan.js';
import { forEachConcurrently } from './pool.js';
import { ProgressBoard } from './progress.js';
import { eraseSettingsFromNode, type EraseSettings } from './settings.js';

export interface EraseStepReport {
  dry_run: boolean;
  devices: Record<string, DeviceReport | PlannedDevice>;
  skipped: SkippedEntry[];
}

interface PlannedDevice {
  device: string;
  size_bytes: number;
  method: string;
  methods_not_used: { method: string; reason: string }[];
  fallback: string | null;
}

export interface EraseStepSpec {
  step: string;
  readOnly: PlanOptions['readOnly'];
  /** Offer each device to other managers' erase_block_device first (erase_devices, as IPA). */
  offerToOtherManagers?: boolean;
  /** `siblings`: for an NVMe namespace, what else its controller's format would erase. */
  choose(ctx: StepContext, device: BlockDevice, settings: EraseSettings, siblings?: NamespaceSiblings): Promise<MethodChoice>;
}

export async function runEraseStep(ctx: StepContext, spec: EraseStepSpec, dryRun: boolean): Promise<EraseStepReport> {
  const settings = eraseSettingsFromNode(ctx.node);
  const plan = await planErase(ctx, { settings, readOnly: spec.readOnly });
  const siblings = await namespaceSiblings(plan.listing, plan.targets);
  // Each device's probes (nvme id-ctrl, hdparm -I) at the same time, as the erases themselves.
  const chosen = await Promise.all(plan.targets.map((device) => spec.choose(ctx, device, settings, siblings.get(device.path))));
  const choices = new Map(plan.targets.map((device, i) => [device.path, chosen[i]!]));

  if (dryRun) {
    const devices: Record<string, PlannedDevice> = {};
    for (const device of plan.targets) {
      const choice = choices.get(device.path)!;
      devices[device.path] = {
        device: device.path,
        size_bytes: device.sizeBytes,
        method: methodName(choice.method),
        methods_not_used: choice.notUsed,
        fallback: choice.fallback ? methodName(choice.fallback) : null,
      };
    }
    return { dry_run: true, devices, skipped: plan.skipped };
  }

  const board = new ProgressBoard(
    ctx.progress,
    spec.step,
    plan.targets.map((d) => ({ path: d.path, sizeBytes: d.sizeBytes })),
    plan.skipped,
  );
  const limit = settings.concurrency ?? Math.max(plan.targets.length, 1);
  const controllerFormats: ControllerFormats = new Map();
  const results = await forEachConcurrently(plan.targets, limit, async (device) => {
    try {
      const report = await eraseDevice(ctx, device, choices.get(device.path)!, board, {
        offerToOtherManagers: spec.offerToOtherManagers ?? false,
        controllerFormats,
      });
      board.finish(device.path);
      return report;
    } catch (error) {
      board.finish(device.path, isIpaError(error) ? error.details : describeError(error));
      throw error;
    }
  });
  board.close();

  const devices: Record<string, DeviceReport> = {};
  const failures: { device: string; error: unknown }[] = [];
  results.forEach((result, index) => {
    const device = plan.targets[index]!;
    if (result.status === 'fulfilled') devices[device.path] = result.value;
    else failures.push({ device: device.path, error: result.reason });
  });
  if (failures.length > 0) {
    const details = failures
      .map(({ device, error }) => `${device}: ${isIpaError(error) ? error.details : describeError(error)}`)
      .join('; ');
    const done = Object.keys(devices);
    const suffix = done.length > 0 ? ` (erased and verified: ${done.join(', ')})` : '';
    // IPA lets an unsupported secure erase fall through to other managers.
    const allIncompatible = failures.every(({ error }) => IncompatibleHardwareMethodError.is(error));
    if (allIncompatible) throw new IncompatibleHardwareMethodError(`${details}${suffix}`);
    throw new BlockDeviceEraseError(`${details}${suffix}`);
  }
  return { dry_run: false, devices, skipped: plan.skipped };
}
