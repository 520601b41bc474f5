/**
 * The install disk's partitions (IPA's `disk_utils.list_partitions`, LVM skipped) and the
 * one that holds a path (`find_partition_with_path`).
 */
import { DeviceNotFound, ExecError, readPartitionTable, type StepContext } from '../../src/hardware/index.js';
import { withFileTree, type FileTree } from './file-trees.js';

type PartitionContext = Pick<StepContext, 'exec' | 'guard' | 'log'>;

/** LVM physical volumes (GPT type, MBR id 8e) are skipped, as IPA skips the `lvm` flag. */
const LVM_TYPES = new Set(['e6d6d379-f507-44c2-a23c-238f2a3df928', '8e']);

async function listPartitions(ctx: PartitionContext, device: string): Promise<string[]> {
  const table = await readPartitionTable(ctx.exec, device);
  if (!table) return [];
  return table.partitions
    .filter((p) => {
      if (!LVM_TYPES.has(p.type)) return true;
      ctx.log.debug({ partition: p.node }, 'Skipping LVM partition');
      return false;
    })
    .map((p) => p.node);
}

/** Partition `number` of `device`, by its table (loop and NVMe devices name them `…p1`). */
export async function partitionByNumber(ctx: PartitionContext, device: string, number: number): Promise<string> {
  const table = await readPartitionTable(ctx.exec, device);
  const found = table?.partitions.find((p) => p.number === number);
  if (!found) throw new DeviceNotFound(`No partition ${number} found on ${device}`);
  return found.node;
}

/** The first partition with directory `dir` at its root, opened for `use`. */
export async function withPartitionHolding<T>(
  ctx: PartitionContext,
  device: string,
  dir: string,
  use: (tree: FileTree) => Promise<T>,
): Promise<T> {
  const partitions = await listPartitions(ctx, device);
  const notFound = Symbol('not found');
  for (const partition of partitions) {
    let outcome: T | typeof notFound;
    try {
      outcome = await withFileTree(ctx, partition, async (tree) => {
        if (!(await tree.hasDirectory(dir))) return notFound;
        ctx.log.info({ path: dir, partition }, 'Path has been found on partition');
        return use(tree);
      });
    } catch (error) {
      if (!(error instanceof ExecError)) throw error;
      ctx.log.warn({ partition, err: error }, 'Failure when inspecting partition');
      continue;
    }
    if (outcome !== notFound) return outcome;
  }
  throw new DeviceNotFound(`No partition found with path ${dir}, scanned: ${partitions.join(', ') || 'no partitions'}`);
}
