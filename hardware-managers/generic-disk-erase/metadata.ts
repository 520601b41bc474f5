/**
 * One disk's metadata erase, after IPA's `destroy_disk_metadata` (reference §8.3). IPA runs,
 * for every partition and then the disk: wipefs, dd over the sectors holding the MBR and the
 * primary and backup GPT (sector-size aware), `sgdisk -Z`, then `fuser` every second until
 * nothing holds the device open.
 *
 * Here: the GPT headers are read before anything is wiped (gpt-areas.ts); wipefs on the
 * partitions (at once) and then the disk; IPA's fixed sectors plus the headers and the entry
 * arrays they point at zeroed by the agent's own writes (zero-ranges.ts: O_DIRECT, one cache
 * flush for the disk); then, within IPA's 20 s, a wait until no process holds the disk or a
 * partition open, read from /proc/<pid>/fd every 50 ms (device-holders.ts: what `fuser`
 * answers, without a process per look); BLKRRPART where the kernel scans partitions, and the
 * wait again.
 *
 * Why no `sgdisk -Z`: IPA runs it after wipefs and dd have already erased the GPT headers, so
 * it finds no table and re-zeroes the same sectors; what it adds is gdisk's DiskSync(): a
 * machine-wide sync(), a one-second sleep and BLKRRPART, on every device, about a second each.
 * Reading the headers first zeroes what `sgdisk -Z` would zero on a disk it finds intact (a
 * relocated array, more than 128 entries); the device's cache is flushed (fdatasync), not
 * every disk of the machine, and the kernel is asked to re-read the table (BLKRRPART) where
 * sgdisk asked.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockDeviceEraseError, ExecError, type BlockDevice, type StepContext } from '../../src/hardware/index.js';
import { processesHolding } from './device-holders.js';
import { findGptAreas, type ByteRange } from './gpt-areas.js';
import { zeroRanges } from './zero-ranges.js';

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

function sectorSizeOf(device: BlockDevice): number {
  return device.logicalSectorSize || 512;
}

/** IPA's fixed areas: the first and last gptSectors() sectors of a disk or partition. */
function fixedTableAreas(sizeBytes: number, sectorSize: number): ByteRange[] {
  const totalSectors = Math.floor(sizeBytes / sectorSize);
  const count = Math.min(gptSectors(sectorSize), totalSectors);
  if (count <= 0) return [];
  const length = count * sectorSize;
  return [
    { offset: 0, length },
    { offset: (totalSectors - count) * sectorSize, length },
  ];
}

/**
 * IPA waits with `fuser` every second, up to 20 times, for whatever opened the device after
 * its table changed (udev's probes) to let go. The same 20 s, looked at every 50 ms: a probe
 * that takes 30 ms does not cost a second.
 */
async function waitUntilUnused(ctx: StepContext, devices: BlockDevice[], budgetMs = 20_000, intervalMs = 50): Promise<void> {
  const paths = new Set(await Promise.all(devices.map((d) => realpath(d.path).catch(() => d.path))));
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const holders = await processesHolding(paths);
    if (holders.length === 0) return;
    if (Date.now() >= deadline) {
      throw new BlockDeviceEraseError(
        `${devices[0]!.path}${devices.length > 1 ? ' or one of its partitions' : ''} is still in use ${budgetMs / 1000} s ` +
          `after its metadata was erased (held open by pid ${holders.join(', ')})`,
      );
    }
    await sleep(intervalMs, undefined, { signal: ctx.signal });
  }
}

export async function destroyDiskMetadata(ctx: StepContext, device: BlockDevice): Promise<void> {
  // Before anything is wiped: wipefs erases the signatures of the headers that say where
  // the entry arrays are.
  const targets = [...device.partitions, device];
  const tables = new Map(
    await Promise.all(targets.map(async (target) => [target, await findGptAreas(target, sectorSizeOf(target))] as const)),
  );
  const erase = async (target: BlockDevice): Promise<void> => {
    const { ranges, ignored } = tables.get(target)!;
    for (const reason of ignored) ctx.log.warn({ device: target.path }, `not following a damaged ${reason}`);
    await wipefs(ctx, target.path);
    // One cache flush, the disk's, after every write to it and its partitions has completed.
    await zeroRanges(target, [...fixedTableAreas(target.sizeBytes, sectorSizeOf(target)), ...ranges], {
      flush: target === device,
    });
  };
  // The partitions at once (IPA goes one after another, in reverse name order): each is its
  // own region of the disk. Then the disk, as IPA, after its partitions.
  // Every partition's work ends before a failure is reported.
  const partitions = await Promise.allSettled(device.partitions.map(erase));
  const failed = partitions.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await erase(device);
  if (device.type === 'file') return;
  // What the writes set off (udev probing the disk and its partitions when a writer closes
  // them) ends before the kernel is asked to drop the partitions, which it refuses while one
  // is open: sgdisk sleeps a second for it. IPA's wait after each device, partitions included.
  await waitUntilUnused(ctx, [device, ...device.partitions]);
  if (await rereadPartitionTable(ctx, device)) await waitUntilUnused(ctx, [device]);
}

/**
 * BLKRRPART, as sgdisk asks after writing, so that the kernel drops the partitions of the
 * table just erased; true when it did. Best effort: a device the kernel does not scan for
 * partitions (a loop device without partscan) is left to dropKernelPartitions.
 */
async function rereadPartitionTable(ctx: StepContext, device: BlockDevice): Promise<boolean> {
  // `partscan` for any disk on recent kernels; older ones have it for loop devices only.
  const sysDir = `/sys/class/block/${device.name}`;
  const partscan = await readFile(`${sysDir}/partscan`, 'utf8').catch(() =>
    readFile(`${sysDir}/loop/partscan`, 'utf8').catch(() => undefined),
  );
  if (partscan?.trim() === '0') return false;
  return ctx.exec('blockdev', ['--rereadpt', device.path], { quiet: true }).then(
    () => true,
    (error: unknown) => {
      ctx.log.warn({ device: device.path, err: error }, 'the kernel did not re-read the erased partition table (BLKRRPART)');
      return false;
    },
  );
}

/** Partitions the kernel still lists for a disk (sysfs), by kernel name; undefined when sysfs cannot tell. */
async function kernelPartitions(name: string): Promise<string[] | undefined> {
  const entries = await readdir(`/sys/class/block/${name}`).catch(() => undefined);
  if (!entries) return undefined;
  const found = await Promise.all(
    entries
      .filter((entry) => entry.startsWith(name) && entry !== name)
      .map(async (entry) => ((await readFile(`/sys/class/block/${name}/${entry}/partition`).catch(() => null)) ? entry : null)),
  );
  return found.filter((entry): entry is string => entry !== null);
}

/**
 * After an erase the disk has no partition table, but the kernel keeps the partitions it
 * knew (always so for devices without partition scanning, such as loop devices): drop
 * them so that later steps and tools see the disk as it is. Best effort.
 */
export async function dropKernelPartitions(ctx: StepContext, device: BlockDevice): Promise<void> {
  if (device.type === 'file' || device.partitions.length === 0) return;
  // Gone already when the kernel re-read the erased table (a metadata erase asks it to).
  if ((await kernelPartitions(device.name))?.length === 0) return;
  await ctx.exec('partx', ['--delete', device.path]).catch((error: unknown) => {
    ctx.log.warn({ device: device.path, err: error }, 'could not drop the kernel partition entries after the erase');
  });
}
