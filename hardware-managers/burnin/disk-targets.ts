/**
 * Which disks burnin_disk writes to. It destroys their contents, so the same rules as
 * erasing apply: the shared target discovery (allow-list outside a ramdisk, never ramdisk
 * media inside one, the node's skip list), then nothing mounted, read-only or refused by the
 * safety guard. Software RAID volumes are left out: their member disks are burnt in
 * themselves (IPA lists disks of type "disk" only).
 */
import { isMounted, listTargetDisks, type BlockDevice, type StepContext } from '../../src/hardware/index.js';

export interface DiskPlan {
  targets: BlockDevice[];
  skipped: { device: string; reason: string }[];
}

export async function planDiskBurnin(ctx: StepContext): Promise<DiskPlan> {
  const { targets: candidates, skipped: shared } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const skipped = shared.map(({ device, reason }) => ({ device: device.path, reason }));
  const targets: BlockDevice[] = [];
  for (const device of candidates) {
    let reason: string | undefined;
    if (/^raid|^md$/.test(device.type)) reason = 'software RAID volume (its member disks are burnt in instead)';
    else if (isMounted(device)) reason = 'holds a mounted filesystem';
    else if (device.readOnly) reason = 'read-only device';
    else {
      const verdict = await ctx.guard.check(device.path);
      if (!verdict.writable) reason = `refused by the safety guard: ${verdict.reason ?? verdict.refusal}`;
    }
    if (reason) skipped.push({ device: device.path, reason });
    else targets.push(device);
  }
  for (const entry of skipped) ctx.log.info({ device: entry.device, reason: entry.reason }, 'not burning in device');
  return { targets, skipped };
}
