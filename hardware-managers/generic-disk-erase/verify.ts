/**
 * Proof that an erase did what it says, read back from the device itself:
 *  - after a pass ending in zeros: the first and last MiB and ≥ 64 random 4 KiB blocks are
 *    all zero;
 *  - after a metadata erase: blkid and wipefs find no signature and sgdisk finds no table.
 *
 * IPA checks neither: its erase_devices trusts shred's exit status and
 * erase_devices_metadata trusts wipefs/dd/sgdisk's. The zero sample is read with O_DIRECT,
 * so that it comes from the device and not from pages cached before a hardware erase (an
 * NVMe format or ATA secure erase changes the medium behind the page cache), a few reads in
 * flight; where the device refuses O_DIRECT the page cache is dropped (`blockdev
 * --flushbufs`) and the sample read through it.
 */
import { randomInt } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { directIoBuffer, ExecError, type BlockDevice, type StepContext } from '../../src/hardware/index.js';

const MIB = 1024 * 1024;
const SAMPLE_BLOCK = 4096;
const SAMPLE_BLOCKS = 64;
/** Reads in flight: the sample is ~2.25 MiB in 66 reads, latency-bound one at a time. */
const READS_IN_FLIGHT = 4;
const ZEROS = Buffer.alloc(MIB);

export interface VerifyOutcome {
  method: 'zero_sample' | 'no_signature';
  passed: boolean;
  /** What was checked, for the report. */
  checked: string;
  /** Why it failed, when it did. */
  problem?: string;
}

type Range = readonly [offset: number, length: number];

/** The first and last MiB and SAMPLE_BLOCKS random blocks (aligned to SAMPLE_BLOCK). */
function zeroSampleRanges(size: number): Range[] {
  const ranges: Range[] = [
    [0, Math.min(MIB, size)],
    [Math.max(size - MIB, 0), Math.min(MIB, size)],
  ];
  const blocks = Math.floor(size / SAMPLE_BLOCK);
  for (let i = 0; i < SAMPLE_BLOCKS && blocks > 0; i++) ranges.push([randomInt(0, blocks) * SAMPLE_BLOCK, SAMPLE_BLOCK]);
  return ranges;
}

export async function verifyZeroed(ctx: StepContext, device: BlockDevice): Promise<VerifyOutcome> {
  const size = device.sizeBytes;
  // Nothing read back is nothing verified: a device reporting no capacity (a dead disk, an
  // empty card reader) must not be reported as erased.
  if (size <= 0) {
    return { method: 'zero_sample', passed: false, checked: 'nothing', problem: 'the device reports a size of 0 bytes' };
  }
  const ranges = zeroSampleRanges(size);
  const checked = describeSample(ranges.length);
  let problem: string | undefined;
  if (device.type === 'file') {
    problem = await readBackZeros(device.path, ranges, false);
  } else {
    const direct = await readBackZeros(device.path, ranges, true).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      return 'refused' as const;
    });
    if (direct === 'refused') {
      ctx.log.info({ device: device.path }, 'O_DIRECT reads refused: verifying through the page cache after dropping it');
      await ctx.exec('blockdev', ['--flushbufs', device.path]).catch(() => undefined);
      problem = await readBackZeros(device.path, ranges, false);
    } else {
      problem = direct;
    }
  }
  return problem === undefined
    ? { method: 'zero_sample', passed: true, checked }
    : { method: 'zero_sample', passed: false, checked, problem };
}

/**
 * Reads every range, a few at a time; the first problem found (a short read or a non-zero
 * byte, by offset), or undefined when all read back as zeros. With `direct`, every range
 * must lie on the device's logical blocks (they do: block devices have whole sectors).
 */
async function readBackZeros(path: string, ranges: readonly Range[], direct: boolean): Promise<string | undefined> {
  const handle = await open(path, direct ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY);
  try {
    const lanes = Math.min(READS_IN_FLIGHT, ranges.length);
    const buffers = await laneBuffers(handle, lanes, direct);
    const problems: { offset: number; problem: string }[] = [];
    let next = 0;
    const lane = async (buffer: Buffer) => {
      while (next < ranges.length && problems.length === 0) {
        const [offset, length] = ranges[next++]!;
        const problem = await checkRange(handle, buffer, offset, length);
        if (problem) problems.push(problem);
      }
    };
    await Promise.all(buffers.map(lane));
    return problems.sort((a, b) => a.offset - b.offset)[0]?.problem;
  } finally {
    await handle.close();
  }
}

async function laneBuffers(handle: FileHandle, lanes: number, direct: boolean): Promise<Buffer[]> {
  const whole = direct ? await directIoBuffer(handle, lanes * MIB) : Buffer.alloc(lanes * MIB);
  // Refused as an O_DIRECT open or read is: the sample is read through the page cache then.
  if (!whole) throw Object.assign(new Error('no O_DIRECT buffer suits the device'), { code: 'EINVAL' });
  return Array.from({ length: lanes }, (_, i) => whole.subarray(i * MIB, (i + 1) * MIB));
}

async function checkRange(
  handle: FileHandle,
  buffer: Buffer,
  offset: number,
  length: number,
): Promise<{ offset: number; problem: string } | undefined> {
  const { bytesRead } = await handle.read(buffer, 0, length, offset);
  if (bytesRead < length) return { offset, problem: `short read at offset ${offset} (${bytesRead} of ${length} bytes)` };
  const data = buffer.subarray(0, length);
  // memcmp first; the byte-by-byte search only for the report of a failure.
  if (data.equals(ZEROS.subarray(0, length))) return undefined;
  const nonZero = data.findIndex((byte) => byte !== 0);
  return { offset: offset + nonZero, problem: `non-zero byte at offset ${offset + nonZero}` };
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
  // Three read-only probes, at once: each is mostly the cost of starting a process.
  const [blkid, signatures, sgdisk] = await Promise.all([
    // blkid exits 2 when it finds nothing to report.
    ctx.exec('blkid', ['-p', '-o', 'export', device.path], { okExitCodes: [0, 2], quiet: true }),
    listSignatures(ctx, device.path),
    ctx.exec('sgdisk', ['-p', device.path], { quiet: true }).catch((error: unknown) => {
      if (error instanceof ExecError) return { stdout: error.stdout, exitCode: error.exitCode ?? -1 };
      throw error;
    }),
  ]);
  if (blkid.exitCode === 0 && blkid.stdout.trim() !== '') {
    return {
      method: 'no_signature',
      passed: false,
      checked,
      problem: `blkid still finds: ${blkid.stdout.trim().replace(/\n/g, ', ')}`,
    };
  }
  if (signatures.length > 0) {
    return { method: 'no_signature', passed: false, checked, problem: `wipefs still finds: ${signatures.join(', ')}` };
  }
  // On a disk without any table sgdisk says it is creating new (in-memory) GPT structures.
  if (!/Creating new GPT entries/.test(sgdisk.stdout)) {
    return { method: 'no_signature', passed: false, checked, problem: 'sgdisk -p still finds a partition table' };
  }
  return { method: 'no_signature', passed: true, checked };
}
