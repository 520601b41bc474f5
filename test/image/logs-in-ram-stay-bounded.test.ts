// The ramdisk's /var/log is RAM: image/rootfs/usr/lib/ramdisk/bound-logs (an inittab service)
// keeps each log under its limit plus one older copy, while the writer (tee -a, O_APPEND) goes
// on writing to the same descriptor. Run with busybox sh as in the image, on a file written
// through an append-mode descriptor as tee writes it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

const LIMIT = 64 * 1024;

describe.skipIf(!busybox)('the logs in /var/log stay bounded (bound-logs, busybox sh)', () => {
  let dir = '';
  let service: ChildProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-logs-'));
  });
  afterEach(() => {
    if (service?.pid) process.kill(-service.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function startBoundLogs(logs: string[]): void {
    service = spawn(busybox!, ['sh', join(RAMDISK_SHELL_LIB, 'bound-logs')], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env.PATH, LOG_FILES: logs.join(' '), LOG_MAX_BYTES: String(LIMIT), LOG_CHECK_SECONDS: '0.05' },
    });
  }

  it('empties a log past its limit into <log>.1 while its writer goes on at the new end', async () => {
    const log = join(dir, 'ramdisk-agent.log');
    const writer = openSync(log, 'a');
    startBoundLogs([log, join(dir, 'not-there.log')]);
    let line = 0;
    const write2KiB = () => {
      for (let i = 0; i < 16; i++) writeSync(writer, `line ${String(line++).padStart(6, '0')} ${'x'.repeat(113)}\n`);
    };
    let rotations = 0;
    try {
      // 2 KiB at a time; each time the log is past its limit, it must be emptied within 5 s
      // (the check runs every 50 ms; 5 s leaves room for a loaded machine).
      while (rotations < 4) {
        write2KiB();
        if (statSync(log).size <= LIMIT) continue;
        rotations++;
        const deadline = Date.now() + 5_000;
        while (statSync(log).size > LIMIT) {
          if (Date.now() > deadline) throw new Error(`the log was not emptied within 5 s of passing ${LIMIT} bytes`);
          await sleep(10);
        }
      }
      write2KiB();
    } finally {
      closeSync(writer);
    }
    const current = readFileSync(log, 'utf8');
    const previous = readFileSync(`${log}.1`, 'utf8');
    // Never a hole of zeros where the emptied file went on.
    expect(current).not.toContain('\0');
    expect(previous).not.toContain('\0');
    // The newest lines are in the log, the ones before them in <log>.1, in order.
    const numbers = (text: string) => [...text.matchAll(/^line (\d+) /gm)].map((m) => Number(m[1]));
    expect(numbers(current).at(-1)).toBe(line - 1);
    const joined = [...numbers(previous), ...numbers(current)];
    expect(joined).toEqual([...joined].sort((a, b) => a - b));
    expect(numbers(previous)[0]).toBeGreaterThan(0);
  });

  it('leaves a log under its limit alone', async () => {
    const log = join(dir, 'ramdisk-init.log');
    const writer = openSync(log, 'a');
    writeSync(writer, 'ramdisk: booted\n'.repeat(100));
    closeSync(writer);
    startBoundLogs([log]);
    await sleep(300);
    expect(readFileSync(log, 'utf8')).toBe('ramdisk: booted\n'.repeat(100));
    expect(existsSync(`${log}.1`)).toBe(false);
  });
});
