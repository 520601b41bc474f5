/**
 * IPA's `destroy_disk_metadata` (reference §8.3): wipefs on every partition and on the
 * disk, zero the sectors holding the MBR and the primary and backup GPT (sector-size
 * aware), `sgdisk -Z`, then wait until nothing holds the device open.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockDeviceEraseError, ExecError, hasCommand, type BlockDevice, type StepContext } from '../../src/hardware/index.js';

/** Sectors holding MBR + GPT header + 16 KiB of entries: 33 of 512 bytes, 5 of 4096 (IPA). */
export function gptSectors(sectorSize: number): number {
  return sectorSize <= 512 ? 33 : Math.ceil(20_480 / sectorSize);
}

async function wipefs(ctx: StepContext, path: string): Promise<void> {
  try {
    await ctx.exec('wipefs', ['--force', '--all', path]);
  } catch (error) {
    // Old wipefs without --force (IPA retries the same way).
    if (error instanceof ExecError && /unrecognized option|invalid option/.test(error.stderr)) {
      await ctx.exec('wipefs', ['--all', path]);
    } else {
      throw error;
    }
  }
}

async function zeroSectors(
  ctx: StepContext,
  device: BlockDevice,
  sectorSize: number,
  count: number,
  seek: number,
): Promise<void> {
  await ctx.exec('dd', [
    `bs=${sectorSize}`,
    'if=/dev/zero',
    `of=${device.path}`,
    `count=${count}`,
    `seek=${seek}`,
    // tmpfs refuses O_DIRECT; plain files are synced instead.
    ...(device.type === 'file' ? ['conv=notrunc,fsync'] : ['oflag=direct', 'conv=notrunc']),
    'status=none',
  ]);
}

/** Zero the table areas at both ends of a disk or partition. */
async function zeroTableAreas(ctx: StepContext, device: BlockDevice): Promise<void> {
  const sectorSize = device.logicalSectorSize || 512;
  const totalSectors = Math.floor(device.sizeBytes / sectorSize);
  const count = Math.min(gptSectors(sectorSize), totalSectors);
  if (count <= 0) return;
  await zeroSectors(ctx, device, sectorSize, count, 0);
  if (totalSectors > count) await zeroSectors(ctx, device, sectorSize, count, totalSectors - count);
}

async function waitUntilUnused(ctx: StepContext, path: string, attempts = 20, intervalMs = 1000): Promise<void> {
  if (!(await hasCommand('fuser'))) {
    ctx.log.warn({ device: path }, 'fuser (psmisc) is not installed: not waiting for holders to let go of the device');
    return;
  }
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // fuser exits 1 when no process uses the file.
    const { exitCode } = await ctx.exec('fuser', [path], { okExitCodes: [0, 1], quiet: true });
    if (exitCode === 1) return;
    if (attempt < attempts) await sleep(intervalMs, undefined, { signal: ctx.signal });
  }
  throw new BlockDeviceEraseError(`${path} is still in use after its metadata was erased (fuser reports holders)`);
}

export async function destroyDiskMetadata(ctx: StepContext, device: BlockDevice): Promise<void> {
  // Partitions first, in reverse name order (sda2 before sda1), as IPA does.
  const partitions = [...device.partitions].sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  for (const partition of partitions) {
    await wipefs(ctx, partition.path);
    await zeroTableAreas(ctx, partition);
  }
  await wipefs(ctx, device.path);
  await zeroTableAreas(ctx, device);
  await ctx.exec('sgdisk', ['-Z', device.path]);
  if (device.type !== 'file') await waitUntilUnused(ctx, device.path);
}

/**
 * After an erase the disk has no partition table, but the kernel keeps the partitions it
 * knew (always so for devices without partition scanning, such as loop devices): drop
 * them so that later steps and tools see the disk as it is. Best effort.
 */
export async function dropKernelPartitions(ctx: StepContext, device: BlockDevice): Promise<void> {
  if (device.type === 'file' || device.partitions.length === 0) return;
  await ctx.exec('partx', ['--delete', device.path]).catch((error: unknown) => {
    ctx.log.warn({ device: device.path, err: error }, 'could not drop the kernel partition entries after the erase');
  });
}
