/**
 * Proof that an erase did what it says, read back from the device itself:
 *  - after a pass ending in zeros: the first and last MiB and ≥ 64 random 4 KiB blocks are
 *    all zero;
 *  - after a metadata erase: blkid and wipefs find no signature and sgdisk finds no table.
 */
import { randomInt } from 'node:crypto';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { ExecError, type BlockDevice, type StepContext } from '../../src/hardware/index.js';

const MIB = 1024 * 1024;
const SAMPLE_BLOCK = 4096;
const SAMPLE_BLOCKS = 64;

export interface VerifyOutcome {
  method: 'zero_sample' | 'no_signature';
  passed: boolean;
  /** What was checked, for the report. */
  checked: string;
  /** Why it failed, when it did. */
  problem?: string;
}

export async function verifyZeroed(ctx: StepContext, device: BlockDevice): Promise<VerifyOutcome> {
  if (device.type !== 'file') {
    // Drop cached pages so that the reads below come from the device.
    await ctx.exec('blockdev', ['--flushbufs', device.path]).catch(() => undefined);
  }
  const size = device.sizeBytes;
  // Nothing read back is nothing verified: a device reporting no capacity (a dead disk, an
  // empty card reader) must not be reported as erased.
  if (size <= 0) {
    return { method: 'zero_sample', passed: false, checked: 'nothing', problem: 'the device reports a size of 0 bytes' };
  }
  const ranges: [number, number][] = [
    [0, Math.min(MIB, size)],
    [Math.max(size - MIB, 0), Math.min(MIB, size)],
  ];
  const blocks = Math.floor(size / SAMPLE_BLOCK);
  for (let i = 0; i < SAMPLE_BLOCKS && blocks > 0; i++) ranges.push([randomInt(0, blocks) * SAMPLE_BLOCK, SAMPLE_BLOCK]);

  const handle = await open(device.path, 'r');
  try {
    const buffer = Buffer.alloc(MIB);
    for (const [offset, length] of ranges) {
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      const nonZero = buffer.subarray(0, bytesRead).findIndex((byte) => byte !== 0);
      if (bytesRead < length || nonZero !== -1) {
        return {
          method: 'zero_sample',
          passed: false,
          checked: describeSample(ranges.length),
          problem:
            bytesRead < length
              ? `short read at offset ${offset} (${bytesRead} of ${length} bytes)`
              : `non-zero byte at offset ${offset + nonZero}`,
        };
      }
    }
  } finally {
    await handle.close();
  }
  return { method: 'zero_sample', passed: true, checked: describeSample(ranges.length) };
}

function describeSample(count: number): string {
  return `first and last MiB and ${Math.max(count - 2, 0)} random ${SAMPLE_BLOCK}-byte blocks read back as zeros`;
}

const wipefsJson = z.object({
  signatures: z.array(z.looseObject({ type: z.string().nullish(), offset: z.string().nullish() })).default([]),
});

/** Signatures wipefs would erase (`wipefs --no-act --json`). */
async function listSignatures(ctx: StepContext, path: string): Promise<string[]> {
  const { stdout } = await ctx.exec('wipefs', ['--no-act', '--json', path], { quiet: true });
  if (stdout.trim() === '') return [];
  return wipefsJson.parse(JSON.parse(stdout)).signatures.map((s) => `${s.type ?? '?'}@${s.offset ?? '?'}`);
}

export async function verifyNoSignatures(ctx: StepContext, device: BlockDevice): Promise<VerifyOutcome> {
  const checked = 'blkid -p, wipefs --no-act and sgdisk -p find no signature or partition table';
  // blkid exits 2 when it finds nothing to report.
  const blkid = await ctx.exec('blkid', ['-p', '-o', 'export', device.path], { okExitCodes: [0, 2], quiet: true });
  if (blkid.exitCode === 0 && blkid.stdout.trim() !== '') {
    return {
      method: 'no_signature',
      passed: false,
      checked,
      problem: `blkid still finds: ${blkid.stdout.trim().replace(/\n/g, ', ')}`,
    };
  }
  const signatures = await listSignatures(ctx, device.path);
  if (signatures.length > 0) {
    return { method: 'no_signature', passed: false, checked, problem: `wipefs still finds: ${signatures.join(', ')}` };
  }
  const sgdisk = await ctx.exec('sgdisk', ['-p', device.path], { quiet: true }).catch((error: unknown) => {
    if (error instanceof ExecError) return { stdout: error.stdout, exitCode: error.exitCode ?? -1 };
    throw error;
  });
  // On a disk without any table sgdisk says it is creating new (in-memory) GPT structures.
  if (!/Creating new GPT entries/.test(sgdisk.stdout)) {
    return { method: 'no_signature', passed: false, checked, problem: 'sgdisk -p still finds a partition table' };
  }
  return { method: 'no_signature', passed: true, checked };
}
