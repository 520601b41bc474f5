/** Reads a scratch disk back to prove what the demo wrote and erased. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

/** sha256 of the first `length` bytes, and whether every byte after them is zero. */
export function sha256OfDevice(path: string, length: number): { sha256: string; restIsZero: boolean; total: number } {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(1024 * 1024);
    let offset = 0;
    while (offset < length) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, length - offset), offset);
      if (n <= 0) break;
      hash.update(buffer.subarray(0, n));
      offset += n;
    }
    let restIsZero = true;
    let total = offset;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, total);
      if (n <= 0) break;
      if (restIsZero && buffer.subarray(0, n).some((b) => b !== 0)) restIsZero = false;
      total += n;
    }
    return { sha256: hash.digest('hex'), restIsZero, total };
  } finally {
    closeSync(fd);
  }
}

export function isAllZero(path: string): boolean {
  return sha256OfDevice(path, 0).restIsZero;
}
