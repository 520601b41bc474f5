/**
 * A qcow2 parked in a byte range of a device (here a file standing in for one) is read by
 * the real `qemu-img` through the NBD export while it is still arriving: what has arrived
 * is converted at once, reads of what has not wait for it, the result is what qemu-img makes
 * of the whole file, and a download that fails makes the conversion fail instead of hang.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrowingImageExport } from '../../../hardware-managers/image-writer/growing-image-export.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const PARK_AT = 3 * MIB;
let dir: string;
let raw: string;
let qcow2: Buffer;
let device: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'growing-export-'));
  raw = join(dir, 'image.raw');
  writeFileSync(raw, randomBytes(48 * MIB));
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'image.qcow2')]);
  qcow2 = readFileSync(join(dir, 'image.qcow2'));
  // The "device": junk, then the qcow2 parked at PARK_AT, then junk.
  device = join(dir, 'device.img');
  writeFileSync(device, Buffer.concat([randomBytes(PARK_AT), qcow2, randomBytes(MIB)]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes of `path` written so far that equal the reference, from the start. */
function matchingPrefix(path: string, reference: Buffer): number {
  let out: Buffer;
  try {
    out = readFileSync(path);
  } catch {
    return 0;
  }
  let same = 0;
  while (same < Math.min(out.length, reference.length) && out[same] === reference[same]) same += 4096;
  return Math.min(same, reference.length);
}

describe('qemu-img reading a parked image through the growing export', () => {
  it('converts what has arrived while the rest is still on its way, and ends with the whole image', async () => {
    const exported = await GrowingImageExport.start(device, PARK_AT, qcow2.length);
    try {
      const out = join(dir, 'converted.raw');
      const reference = readFileSync(raw);
      exported.available(Math.floor(qcow2.length * 0.5));
      const converting = run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', exported.spec('qcow2'), out]);
      let finished = false;
      void converting.then(() => (finished = true)).catch(() => undefined);
      // Half has arrived: a good part of the disk is converted, the rest waits.
      const deadline = Date.now() + 20_000;
      while (matchingPrefix(out, reference) < 16 * MIB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(matchingPrefix(out, reference)).toBeGreaterThanOrEqual(16 * MIB);
      await new Promise((r) => setTimeout(r, 300));
      expect(finished).toBe(false);

      exported.available(qcow2.length);
      await converting;
      expect(readFileSync(out).equals(reference)).toBe(true);
    } finally {
      await exported.close();
    }
  });

  it('makes qemu-img fail when the download fails, instead of leaving it waiting', async () => {
    const exported = await GrowingImageExport.start(device, PARK_AT, qcow2.length);
    try {
      exported.available(Math.floor(qcow2.length * 0.3));
      const converting = run('qemu-img', [
        'convert',
        '-U',
        '-f',
        'qcow2',
        '-O',
        'raw',
        exported.spec('qcow2'),
        join(dir, 'failed.raw'),
      ]);
      setTimeout(() => exported.fail(new Error('connection reset')), 300);
      await expect(converting).rejects.toThrow(/error while reading|Input\/output error/i);
    } finally {
      await exported.close();
    }
  });

  it('serves only its range, read-only', async () => {
    const exported = await GrowingImageExport.start(device, PARK_AT, qcow2.length);
    try {
      exported.available(qcow2.length);
      const copy = join(dir, 'copy.bin');
      await run('qemu-img', ['convert', '-U', '-f', 'raw', '-O', 'raw', exported.spec('raw'), copy]);
      expect(statSync(copy).size).toBe(qcow2.length);
      expect(readFileSync(copy).equals(qcow2)).toBe(true);
      const write = run('qemu-io', ['-f', 'raw', '-c', 'write 0 4k', exported.spec('raw')]);
      await expect(write).rejects.toThrow();
      expect(
        readFileSync(device)
          .subarray(PARK_AT, PARK_AT + qcow2.length)
          .equals(qcow2),
      ).toBe(true);
    } finally {
      await exported.close();
    }
  });
});
