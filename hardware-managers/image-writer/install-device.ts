/**
 * The disk an image goes to (reference §15): the node's root device hints, else the
 * smallest disk of at least 4 GiB, among the disks destructive steps may touch, minus
 * any the device guard refuses right now (mounted, swap, read-only).
 */
import {
  listTargetDisks,
  rootDeviceHintsFromNode,
  selectRootDevice,
  type BlockDevice,
  type StepContext,
} from '../../src/hardware/index.js';

export async function selectInstallDevice(ctx: Pick<StepContext, 'exec' | 'guard' | 'node' | 'log'>): Promise<BlockDevice> {
  const { targets, skipped } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const usable: BlockDevice[] = [];
  for (const device of targets) {
    const verdict = await ctx.guard.check(device.path);
    if (verdict.writable) usable.push(device);
    else skipped.push({ device, reason: verdict.reason ?? 'refused by the device guard' });
  }
  for (const { device, reason } of skipped) ctx.log.debug({ device: device.path, reason }, 'not a candidate for the image');
  const hints = rootDeviceHintsFromNode(ctx.node);
  const chosen = selectRootDevice(usable, hints);
  ctx.log.info({ device: chosen.path, sizeBytes: chosen.sizeBytes, hints: hints ?? null }, 'install device selected');
  return chosen;
}
