/**
 * The disk an image goes to (reference §15): the software RAID root volume when one exists
 * (as IPA's get_os_install_device), else the node's root device hints, else the
 * smallest disk of at least 4 GiB, among the disks destructive steps may touch, minus
 * any the device guard refuses right now (mounted, swap, read-only).
 */
import {
  DeviceNotFound,
  findDevicesByHints,
  HardwareManagerMethodNotFound,
  listTargetDisks,
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

export async function selectInstallDevice(ctx: StepContext): Promise<BlockDevice> {
  const { targets, skipped } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const usable: BlockDevice[] = [];
  for (const device of targets) {
    const verdict = await ctx.guard.check(device.path);
    if (verdict.writable) usable.push(device);
    else skipped.push({ device, reason: verdict.reason ?? 'refused by the device guard' });
  }
  for (const { device, reason } of skipped) ctx.log.debug({ device: device.path, reason }, 'not a candidate for the image');
  const hints = rootDeviceHintsFromNode(ctx.node);
  // IPA: a root volume of the software RAID configuration wins over root device hints.
  const raidRoot = await softwareRaidRoot(ctx);
  if (raidRoot) {
    if (hints)
      ctx.log.warn(
        { hints, device: raidRoot },
        `Both root device hints (${pythonRepr(hints)}) and a root volume from the target RAID configuration are defined. The RAID root volume will be used.`,
      );
    const md = usable.find((d) => d.path === raidRoot);
    if (!md) {
      const reason = skipped.find((s) => s.device.path === raidRoot)?.reason ?? 'not a disk this agent may write';
      throw new DeviceNotFound(`The software RAID root volume ${raidRoot} cannot be installed onto: ${reason}`);
    }
    ctx.log.info({ device: md.path, sizeBytes: md.sizeBytes }, 'install device: software RAID root volume');
    return md;
  }
  let chosen: BlockDevice;
  try {
    chosen = selectRootDevice(usable, hints);
  } catch (error) {
    throw hints ? withRefusedMatches(error, hints, skipped) : error;
  }
  ctx.log.info({ device: chosen.path, sizeBytes: chosen.sizeBytes, hints: hints ?? null }, 'install device selected');
  return chosen;
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
    const matching = new Set(findDevicesByHints(skipped.map((s) => s.device), hints));
    refused = skipped.filter((s) => matching.has(s.device));
  } catch {
    return error; // hints that do not validate: selectRootDevice's message says so already
  }
  if (refused.length === 0) return error;
  const why = refused.map((s) => `${s.device.path}: ${s.reason}`).join('; ');
  return new DeviceNotFound(`${error.details}; matching but refused: ${why}`);
}
