/**
 * The growing export keeps the download's last bytes in memory for qemu-img, and holds a
 * download that runs further ahead than that memory while qemu-img keeps reading: the real
 * `qemu-img` converts a qcow2 "downloaded" (written into a device file standing in for the
 * disk) much faster than it converts, the result is the whole image, and a reader that stops
 * holds nothing back for long.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrowingImageExport } from '../../../hardware-managers/image-writer/growing-image-export.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const PARK_AT = 3 * MIB;
const CHUNK = 256 * 1024;
/** Small against the image and qemu-img's reads (up to 2 MiB), so a reader at work is soon trailing by more. */
const RECENT = MIB;
let dir: string;
let raw: string;
let qcow2: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'growing-export-recent-'));
  raw = join(dir, 'image.raw');
  writeFileSync(raw, randomBytes(40 * MIB));
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'image.qcow2')]);
  qcow2 = readFileSync(join(dir, 'image.qcow2'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A device file whose parking range holds junk until the "download" writes it. */
function junkDevice(name: string): string {
  const device = join(dir, name);
  writeFileSync(device, randomBytes(PARK_AT + qcow2.length + MIB));
  return device;
}

/**
 * Writes bytes [from, to) of the qcow2 into the device in chunks as the agent's download
 * does (handed to the export, written, made available); how many chunks were held back
 * and the longest hold.
 */
async function download(exported: GrowingImageExport, device: string, from: number, to = qcow2.length) {
  const handle = await open(device, 'r+');
  let held = 0;
  let longest = 0;
  try {
    for (let position = from; position < to; position += CHUNK) {
      const chunk = qcow2.subarray(position, Math.min(position + CHUNK, to));
      const started = performance.now();
      const hold = exported.receive(chunk);
      if (hold) held++;
      await hold;
      longest = Math.max(longest, performance.now() - started);
      await handle.write(chunk, 0, chunk.length, PARK_AT + position);
      exported.available(position + chunk.length);
    }
  } finally {
    await handle.close();
  }
  return { held, longest };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the growing export keeping the last downloaded bytes', () => {
  it('holds a download that runs ahead while qemu-img reads, and qemu-img still gets the whole image', async () => {
    const device = junkDevice('device-a.img');
    const exported = await GrowingImageExport.start(device, PARK_AT, qcow2.length, { recentBytes: RECENT });
    try {
      const out = join(dir, 'converted.raw');
      // Header and tables are there when qemu-img starts; it then waits for the data.
      await download(exported, device, 0, 2 * MIB);
      const converting = run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', exported.spec('qcow2'), out]);
      await pause(300);
      // Written to a file in the page cache, the rest arrives far faster than qemu-img converts it.
      const { held } = await download(exported, device, 2 * MIB);
      await converting;
      expect(held).toBeGreaterThan(0);
      expect(readFileSync(out).equals(readFileSync(raw))).toBe(true);
    } finally {
      await exported.close();
    }
  });

  it('holds nothing back without a reader, and only for a moment once the reader stopped', async () => {
    const device = junkDevice('device-b.img');
    const exported = await GrowingImageExport.start(device, PARK_AT, qcow2.length, { recentBytes: RECENT });
    try {
      expect(await download(exported, device, 0, 8 * MIB)).toEqual({ held: 0, longest: expect.any(Number) });
      const stop = new AbortController();
      const converting = run(
        'qemu-img',
        ['convert', '-U', '-f', 'qcow2', '-O', 'raw', exported.spec('qcow2'), join(dir, 'b.raw')],
        {
          signal: stop.signal,
        },
      ).catch(() => undefined);
      await pause(200);
      stop.abort();
      await converting;
      const { longest } = await download(exported, device, 8 * MIB);
      expect(longest).toBeLessThan(1000);
    } finally {
      await exported.close();
    }
  });
});
