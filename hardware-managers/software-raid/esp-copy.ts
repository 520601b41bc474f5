/**
 * The image's ESP onto the ESP mirror of a software RAID root: copied byte for byte (`dd`),
 * the same UUID, label and files with nothing mounted.
 */
import { SoftwareRAIDError, type StepContext } from '../../src/hardware/index.js';

async function blockDeviceSize(ctx: Pick<StepContext, 'exec'>, device: string): Promise<number> {
  const { stdout } = await ctx.exec('blockdev', ['--getsize64', device]);
  return Number(stdout.trim());
}

/** Copies the FAT filesystem of `imageEsp` onto `target` (the mirror's md device). */
export async function copyImageEsp(ctx: StepContext, imageEsp: string, target: string): Promise<void> {
  const [source, size] = [await blockDeviceSize(ctx, imageEsp), await blockDeviceSize(ctx, target)];
  if (source > size) {
    throw new SoftwareRAIDError(`ESP content (${source} bytes) exceeds md device size (${size} bytes)`);
  }
  await ctx.guard.assertWritable(target);
  await ctx.exec('dd', [`if=${imageEsp}`, `of=${target}`, 'bs=4M', 'conv=fsync', 'status=none'], {
    timeoutMs: 10 * 60_000,
  });
}
