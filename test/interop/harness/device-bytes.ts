/** What is on a scratch device, read back for the interop assertions (our devices only). */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { readBytes as readFileBytes } from '../../helpers/file-bytes.js';

const CHUNK = 1024 * 1024;

/** Drop the device's cached pages so what we read is what the agent wrote. */
function flush(device: string): void {
  execFileSync('blockdev', ['--flushbufs', device], { stdio: 'ignore' });
}

function* chunks(device: string, length: number): Generator<{ offset: number; bytes: Buffer }> {
  flush(device);
  const fd = openSync(device, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK);
    for (let offset = 0; offset < length; offset += CHUNK) {
      const size = Math.min(CHUNK, length - offset);
      const read = readSync(fd, buffer, 0, size, offset);
      if (read !== size) throw new Error(`short read on ${device} at ${offset}: ${read} of ${size} bytes`);
      yield { offset, bytes: buffer.subarray(0, size) };
    }
  } finally {
    closeSync(fd);
  }
}

/** Offset of the first non-zero byte in the first `length` bytes, or -1 if all are zero. */
export function firstNonZeroByte(device: string, length: number): number {
  for (const { offset, bytes } of chunks(device, length)) {
    const index = bytes.findIndex((b) => b !== 0);
    if (index >= 0) return offset + index;
  }
  return -1;
}

/** Offset of the first byte where the device differs from `expected`, or -1 if none does. */
function firstDifference(device: string, expected: Buffer): number {
  for (const { offset, bytes } of chunks(device, expected.length)) {
    const want = expected.subarray(offset, offset + bytes.length);
    if (!bytes.equals(want)) return offset + bytes.findIndex((b, i) => b !== want[i]);
  }
  return -1;
}

export function readBytes(device: string, offset: number, length: number): Buffer {
  flush(device);
  return readFileBytes(device, offset, length);
}

/** The signatures libblkid finds (filesystems, partition tables), as wipefs lists them. */
export function signatures(device: string): string[] {
  flush(device);
  const out = execFileSync('wipefs', ['--no-act', '--noheadings', '--output', 'TYPE,OFFSET', device], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** Undefined when the device starts with `expected`; else where and how they differ. */
export function differenceFrom(device: string, expected: Buffer): string | undefined {
  const offset = firstDifference(device, expected);
  if (offset < 0) return undefined;
  const start = Math.max(0, offset - 4);
  const length = Math.min(16, expected.length - start);
  const hex = (bytes: Buffer) => bytes.toString('hex').replace(/(..)/g, '$1 ').trim();
  return `first difference at byte ${offset}; from byte ${start}: device [${hex(readBytes(device, start, length))}] image [${hex(expected.subarray(start, start + length))}]`;
}
