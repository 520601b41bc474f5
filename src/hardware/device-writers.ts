/**
 * Which other processes hold a device open for writing, read from /proc/<pid>/fd and
 * fdinfo. The agent is to be the only writer of a disk it erases or images: a tool left
 * over by a previous agent (killed before it could end its children) or anything else
 * writing there would interleave with us, so the guard refuses such a device.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { join } from 'node:path';

export interface DeviceWriter {
  pid: number;
  /** The process's command line, for the refusal message. */
  command: string;
  /** The path it has open (the device, one of its partitions or a device stacked on it). */
  path: string;
}

/** O_ACCMODE bits of fdinfo's octal `flags`: 1 = O_WRONLY, 2 = O_RDWR. */
function opensForWriting(fdinfo: string): boolean {
  const flags = /^flags:\s*([0-7]+)/m.exec(fdinfo)?.[1];
  return flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0;
}

/**
 * Processes other than this one with one of `paths` open for writing. Best effort without
 * root (other users' fds are unreadable); the agent runs as root.
 *
 * Read with synchronous calls, yielding to the event loop every millisecond: one async
 * request per fd (hundreds on a busy machine) cost 25-120 ms of thread-pool round trips
 * before every erase or image write, the plain system calls 3-8 ms.
 */
export async function findDeviceWriters(paths: ReadonlySet<string>, procRoot = '/proc'): Promise<DeviceWriter[]> {
  const pids = listOr(() => readdirSync(procRoot)).filter((name) => /^\d+$/.test(name));
  const writers: DeviceWriter[] = [];
  let slice = performance.now();
  for (const pidText of pids) {
    const pid = Number(pidText);
    if (pid === process.pid) continue;
    const writer = writerAmong(paths, procRoot, pidText);
    if (writer) writers.push(writer);
    if (performance.now() - slice > 1) {
      await yieldToEventLoop();
      slice = performance.now();
    }
  }
  return writers.sort((a, b) => a.pid - b.pid);
}

function writerAmong(paths: ReadonlySet<string>, procRoot: string, pidText: string): DeviceWriter | undefined {
  const fdDir = join(procRoot, pidText, 'fd');
  for (const fd of listOr(() => readdirSync(fdDir))) {
    const target = textOr(() => readlinkSync(join(fdDir, fd)));
    if (!paths.has(target)) continue;
    if (!opensForWriting(textOr(() => readFileSync(join(procRoot, pidText, 'fdinfo', fd), 'utf8')))) continue;
    const cmdline = textOr(() => readFileSync(join(procRoot, pidText, 'cmdline'), 'utf8'));
    return { pid: Number(pidText), command: cmdline.split('\0').filter(Boolean).join(' ').slice(0, 200), path: target };
  }
  return undefined;
}

/** A process can end (and its fds close) between any two reads: that reads as nothing. */
function textOr(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

function listOr(read: () => string[]): string[] {
  try {
    return read();
  } catch {
    return [];
  }
}
