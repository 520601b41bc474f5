// The safety guard's scan of /proc: another process holding a disk (here a scratch file)
// open for writing is found and named; one holding it open only for reading is not.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { findDeviceWriters } from '../../src/hardware/device-writers.js';

const started: ChildProcess[] = [];
let dir: string | undefined;
afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A shell that opens `file` as fd 3 (`redirect` is `>>` or `<`) and then sleeps. */
async function holder(file: string, redirect: '>>' | '<'): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', `exec 3${redirect}"${file}"; exec sleep 60`], { stdio: 'ignore' });
  started.push(child);
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${child.pid}/fd/3`) === file && readlinkSync(`/proc/${child.pid}/exe`).endsWith('sleep'))
        return child;
    } catch {
      // not there yet
    }
    await sleep(10);
  }
  throw new Error(`the holder of ${file} did not start`);
}

describe('findDeviceWriters', () => {
  it('names the process holding the device open for writing, not the one reading it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-writers-'));
    const disk = join(dir, 'disk.img');
    const other = join(dir, 'other.img');
    writeFileSync(disk, '');
    writeFileSync(other, '');
    const writer = await holder(disk, '>>');
    await holder(disk, '<');
    await holder(other, '>>');
    expect(await findDeviceWriters(new Set([disk]))).toEqual([{ pid: writer.pid, command: 'sleep 60', path: disk }]);
  });

  it('finds nobody when nothing else holds the device', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-writers-'));
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, '');
    expect(await findDeviceWriters(new Set([disk]))).toEqual([]);
  });
});
