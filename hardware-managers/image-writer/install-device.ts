/**
 * The disk an image goes to (reference §15): the software RAID root volume when one exists
 * (as IPA's get_os_install_device), else the node's root device hints, else the
 * smallest disk of at least 4 GiB, among the disks destructive steps may touch. The disk is
 * chosen as IPA chooses it, and only then asked of the device guard: a disk refused right
 * now (mounted, swap, read-only, open for writing elsewhere) fails the step with the reason.
 * Choosing among the writable disks instead put the image, without hints, on the next
 * larger disk (a data disk) whenever the smallest one was busy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_HARDWARE_SETTINGS,
  DeviceNotFound,
  findDevicesByHints,
  HardwareManagerMethodNotFound,
  listTargetDisks,
  parseRootDeviceHints,
  pythonRepr,
  rootDeviceHintsFromNode,
  selectRootDevice,
  type BlockDevice,
  type SkippedDevice,
  type StepContext,
} from '../../src/hardware/index.js';

/** The software RAID root volume, when a manager (software-raid) knows one. */
async function softwareRaidRoot(ctx: StepContext): Promise<string | undefined> {
  try {
    return (await ctx.dispatch('software_raid_root_device', ctx)) ?? undefined;
  } catch (error) {
    if (HardwareManagerMethodNotFound.is(error)) return undefined;
    throw error;
  }
}

async function listCandidates(ctx: StepContext): Promise<{ targets: BlockDevice[]; skipped: readonly SkippedDevice[] }> {
  const { targets, skipped } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  for (const { device, reason } of skipped) ctx.log.debug({ device: device.path, reason }, 'not a candidate for the image');
  return { targets, skipped };
}

/** Hints that cannot match anything ever: waiting for a disk does not help. */
function hintsAreInvalid(hints: Record<string, unknown> | undefined): boolean {
  try {
    parseRootDeviceHints(hints);
    return false;
  } catch {
    return true;
  }
}

/**
 * IPA's wait_for_disks: the root device is looked for `diskWaitAttempts` times,
 * `diskWaitDelay` seconds apart, before DeviceNotFound, since a slow RAID controller or a SAN
 * LUN shows its disk late. IPA waits when a command brings a node it had not seen (and at
 * start) and goes on either way; here the wait is where the disk is needed, so listing steps
 * for a new node stays instant, and it ends early when there is nothing to wait for: invalid
 * hints, or a matching disk that is there but refused (selectInstallDevice says why).
 */
async function chooseRootDevice(
  ctx: StepContext,
  hints: Record<string, unknown> | undefined,
  first: { targets: BlockDevice[]; skipped: readonly SkippedDevice[] },
): Promise<BlockDevice> {
  const attempts = Math.max(1, ctx.settings?.diskWaitAttempts ?? DEFAULT_HARDWARE_SETTINGS.diskWaitAttempts ?? 1);
  const delayMs = (ctx.settings?.diskWaitDelay ?? DEFAULT_HARDWARE_SETTINGS.diskWaitDelay ?? 0) * 1000;
  let { targets, skipped } = first;
  for (let attempt = 1; ; attempt++) {
    try {
      return selectRootDevice(targets, hints);
    } catch (error) {
      const explained = hints ? withRefusedMatches(error, hints, skipped) : error;
      if (!DeviceNotFound.is(error) || explained !== error || hintsAreInvalid(hints) || attempt >= attempts) {
        if (attempt > 1)
          ctx.log.warn(`The root device was not detected in ${Math.round(((attempt - 1) * delayMs) / 1000)} seconds`);
        throw explained;
      }
      ctx.log.info({ hints: hints ?? null }, `Still waiting for the root device to appear, attempt ${attempt} of ${attempts}`);
      await sleep(delayMs, undefined, { signal: ctx.signal });
      ({ targets, skipped } = await listCandidates(ctx));
    }
  }
}

export async function selectInstallDevice(ctx: StepContext): Promise<BlockDevice> {
  const { targets, skipped } = await listCandidates(ctx);
  const hints = rootDeviceHintsFromNode(ctx.node);
  // IPA: a root volume of the software RAID configuration wins over root device hints.
  const raidRoot = await softwareRaidRoot(ctx);
  if (raidRoot) {
    if (hints)
      ctx.log.warn(
        { hints, device: raidRoot },
        `Both root device hints (${pythonRepr(hints)}) and a root volume from the target RAID configuration are defined. The RAID root volume will be used.`,
      );
    const md = targets.find((d) => d.path === raidRoot);
    if (!md) {
      const reason = skipped.find((s) => s.device.path === raidRoot)?.reason ?? 'not a disk this agent may write';
      throw new DeviceNotFound(`The software RAID root volume ${raidRoot} cannot be installed onto: ${reason}`);
    }
    await assertWritable(ctx, md, `The software RAID root volume ${raidRoot} cannot be installed onto`);
    ctx.log.info({ device: md.path, sizeBytes: md.sizeBytes }, 'install device: software RAID root volume');
    return md;
  }
  const chosen = await chooseRootDevice(ctx, hints, { targets, skipped });
  const why = hints ? `matching the root device hints ${pythonRepr(hints)}` : 'the smallest disk of at least 4 GiB';
  await assertWritable(ctx, chosen, `The install device ${chosen.path} (${why}) cannot be written`);
  ctx.log.info({ device: chosen.path, sizeBytes: chosen.sizeBytes, hints: hints ?? null }, 'install device selected');
  return chosen;
}

async function assertWritable(ctx: StepContext, device: BlockDevice, what: string): Promise<void> {
  const verdict = await ctx.guard.check(device.path);
  if (verdict.writable) return;
  throw new DeviceNotFound(
    `${what}: ${verdict.reason ?? 'refused by the device guard'}. No other disk is chosen in its place; ` +
      'free it, or choose the disk with root device hints (properties.root_device)',
  );
}

/**
 * IPA's "No suitable device ... using these hints" names no device; when the hinted disk
 * exists but was refused (mounted, busy, read-only, not allow-listed), say which and why
 * after IPA's text, so the operator knows what to fix.
 */
function withRefusedMatches(error: unknown, hints: Record<string, unknown>, skipped: readonly SkippedDevice[]): unknown {
  if (!DeviceNotFound.is(error)) return error;
  let refused: SkippedDevice[];
  try {
    const matching = new Set(
      findDevicesByHints(
        skipped.map((s) => s.device),
        hints,
      ),
    );
    refused = skipped.filter((s) => matching.has(s.device));
  } catch {
    return error; // hints that do not validate: selectRootDevice's message says so already
  }
  if (refused.length === 0) return error;
  const why = refused.map((s) => `${s.device.path}: ${s.reason}`).join('; ');
  return new DeviceNotFound(`${error.details}; matching but refused: ${why}`);
}
