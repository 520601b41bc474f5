/**
 * Overwrite erase: `shred` writes the random passes (as IPA does), then a zero pass written
 * by the agent (zero-writer.ts: O_DIRECT, several 4 MiB writes in flight, faster than
 * `dd if=/dev/zero bs=4M oflag=direct`), which reports its progress twice a second where
 * shred's verbose output only updates every 5 seconds. Where IPA zeroes with shred's
 * `--zero` pass, the result on the disk is the same: zeros over every byte.
 */
import type { BlockDevice, StepContext } from '../../src/hardware/index.js';
import type { ProgressBoard } from './progress.js';
import { writeZeros } from './zero-writer.js';

const UNITS: Record<string, number> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, PiB: 1024 ** 5 };

export interface ShredProgress {
  pass: number;
  passes: number;
  pattern: string;
  bytesDone: number | undefined;
  percent: number | undefined;
}

/** One line of `shred --verbose`: `shred: /dev/sda: pass 1/2 (random)...4.9GiB/29GiB 17%`. */
export function parseShredLine(line: string): ShredProgress | undefined {
  const match = /pass (\d+)\/(\d+) \(([^)]*)\)\.\.\.(?:([\d.]+)([KMGTP]iB|B)?\/[\d.]+(?:[KMGTP]iB|B)? (\d+)%)?/.exec(line);
  if (!match) return undefined;
  const [, pass, passes, pattern, amount, unit, percent] = match;
  return {
    pass: Number(pass),
    passes: Number(passes),
    pattern: pattern ?? '',
    bytesDone: amount === undefined ? undefined : Math.round(Number(amount) * (UNITS[unit ?? ''] ?? 1)),
    percent: percent === undefined ? undefined : Number(percent),
  };
}

/** `dd status=progress` line: `104857600 bytes (105 MB, 100 MiB) copied, 1 s, 105 MB/s`. */
export function parseDdProgressLine(line: string): number | undefined {
  const match = /^(\d+) bytes/.exec(line.trim());
  return match?.[1] ? Number(match[1]) : undefined;
}

export interface OverwritePlan {
  randomPasses: number;
  zeroPass: boolean;
}

export function overwritePasses(plan: OverwritePlan): number {
  return plan.randomPasses + (plan.zeroPass ? 1 : 0);
}

/** Generous: the slowest disks still write 50 MB/s. */
function timeoutFor(device: BlockDevice, passes: number): number {
  return Math.max(10 * 60_000, ((device.sizeBytes * Math.max(passes, 1)) / (50 * 1024 ** 2)) * 1000 * 2);
}

export async function overwrite(ctx: StepContext, device: BlockDevice, plan: OverwritePlan, board: ProgressBoard): Promise<void> {
  const passes = overwritePasses(plan);
  if (plan.randomPasses > 0) {
    await ctx.exec('shred', ['--force', '--verbose', '--iterations', String(plan.randomPasses), device.path], {
      timeoutMs: timeoutFor(device, plan.randomPasses),
      signal: ctx.signal,
      priority: 'background',
      onLine: (line) => {
        const progress = parseShredLine(line);
        if (!progress) return;
        const bytes = progress.percent === undefined ? 0 : Math.round((progress.percent / 100) * device.sizeBytes);
        board.advance(device.path, progress.pass, bytes);
      },
    });
  }
  if (plan.zeroPass) {
    const zeroPass = plan.randomPasses + 1;
    board.advance(device.path, zeroPass, 0);
    await zeroFill(ctx, device, (bytes) => board.advance(device.path, zeroPass, bytes), passes);
  }
}

/**
 * Writes zeros over the whole device (or file, without changing its size): block devices
 * with the agent's queued O_DIRECT writer, plain files (stand-ins for disks, maybe on tmpfs,
 * which refuses O_DIRECT) with dd and a final fdatasync.
 */
async function zeroFill(
  ctx: StepContext,
  device: BlockDevice,
  onBytes: (bytes: number) => void,
  passesForTimeout = 1,
): Promise<void> {
  const isFile = device.type === 'file';
  if (!isFile) {
    await writeZeros(device.path, device.sizeBytes, {
      signal: ctx.signal,
      timeoutMs: timeoutFor(device, passesForTimeout),
      onBytes,
    });
    return;
  }
  const args = [
    'if=/dev/zero',
    `of=${device.path}`,
    'bs=4M',
    `count=${device.sizeBytes}`,
    'iflag=count_bytes',
    'conv=notrunc,fdatasync',
    'status=progress',
  ];
  await ctx.exec('dd', args, {
    timeoutMs: timeoutFor(device, passesForTimeout),
    signal: ctx.signal,
    onLine: (line) => {
      const bytes = parseDdProgressLine(line);
      if (bytes !== undefined) onBytes(bytes);
    },
  });
  onBytes(device.sizeBytes);
}
