/**
 * The image's ESP onto the ESP mirror of a software RAID root (IPA's
 * `prepare_boot_partitions_for_softraid`). When its filesystem fits the mirror it is copied
 * byte for byte (`dd`): the same UUID, label and files, nothing mounted. A
 * diskimage-builder image's ESP is 550 MiB, as large as each mirror member, and the mirror
 * is smaller than its members by the metadata 1.0 superblock area: then, as IPA does since
 * its bug 2090993, a fresh FAT with the image ESP's UUID and label (IPA's default label
 * `esp` when it has none) gets its files, refused with IPA's message when they do not fit.
 * Deliberate difference: the files go through mtools and a staging folder in RAM instead of
 * IPA's two mounts and `cp -a`, so the ramdisk's kernel needs no vfat driver and nothing is
 * left mounted after a failure; FAT keeps no owners or modes, so nothing is lost.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeFilesystemAt, SoftwareRAIDError, type StepContext } from '../../src/hardware/index.js';

const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

async function blockDeviceSize(ctx: Pick<StepContext, 'exec'>, device: string): Promise<number> {
  const { stdout } = await ctx.exec('blockdev', ['--getsize64', device]);
  return Number(stdout.trim());
}

/** What `du -sb` counts: the bytes of every file and directory under `path`. */
async function usedBytes(path: string): Promise<number> {
  let total = (await stat(path)).size;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    total += entry.isDirectory() ? await usedBytes(child) : (await stat(child)).size;
  }
  return total;
}

async function copyEspFiles(ctx: StepContext, imageEsp: string, target: string, targetBytes: number): Promise<void> {
  const probed = await probeFilesystemAt(ctx.exec, imageEsp, 0);
  if (probed.TYPE !== 'vfat') {
    throw new SoftwareRAIDError(
      `The image's EFI system partition ${imageEsp} holds no FAT filesystem (${probed.TYPE ?? 'none'})`,
    );
  }
  const staging = await mkdtemp(join(tmpdir(), 'esp-copy-'));
  try {
    // `mdir -a` lists hidden and system files too; an empty ESP has nothing to copy (mcopy
    // would fail on `::/*` matching nothing).
    const { stdout: listing } = await ctx.exec('mdir', ['-a', '-b', '-i', imageEsp, '::/'], {
      env: MTOOLS_ENV,
      okExitCodes: [0, 1],
    });
    if (listing.split('\n').some((line) => line.trim().startsWith('::/'))) {
      // `::/*` takes hidden and system files too; -s recurses, -p -m keep attributes and times.
      await ctx.exec('mcopy', ['-s', '-p', '-m', '-n', '-i', imageEsp, '::/*', `${staging}/`], { env: MTOOLS_ENV });
    }
    const used = await usedBytes(staging);
    if (used > targetBytes) {
      throw new SoftwareRAIDError(`ESP content (${used} bytes) exceeds md device size (${targetBytes} bytes)`);
    }
    const uuid = (probed.UUID ?? '').replace('-', '');
    await ctx.exec('mkfs.vfat', ['-n', probed.LABEL || 'esp', ...(uuid ? ['-i', uuid] : []), target]);
    const entries = (await readdir(staging)).map((name) => join(staging, name));
    if (entries.length > 0) {
      await ctx.exec('mcopy', ['-s', '-p', '-m', '-n', '-i', target, ...entries, '::/'], {
        env: MTOOLS_ENV,
        timeoutMs: 10 * 60_000,
      });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Copies the FAT filesystem of `imageEsp` onto `target` (the mirror's md device). */
export async function copyImageEsp(ctx: StepContext, imageEsp: string, target: string): Promise<void> {
  const [source, size] = [await blockDeviceSize(ctx, imageEsp), await blockDeviceSize(ctx, target)];
  await ctx.guard.assertWritable(target);
  if (source > size) {
    ctx.log.info({ imageEsp, target, source, size }, "the image's ESP is larger than the mirror: copying its files");
    await copyEspFiles(ctx, imageEsp, target, size);
    return;
  }
  await ctx.exec('dd', [`if=${imageEsp}`, `of=${target}`, 'bs=4M', 'conv=fsync', 'status=none'], {
    timeoutMs: 10 * 60_000,
  });
}
