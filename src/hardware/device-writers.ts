/**
 * Which other processes hold a device open for writing, read from /proc/<pid>/fd and
 * fdinfo. The agent is to be the only writer of a disk it erases or images: a tool left
 * over by a previous agent (killed before it could end its children) or anything else
 * writing there would interleave with us, so the guard refuses such a device.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
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
 */
export async function findDeviceWriters(paths: ReadonlySet<string>, procRoot = '/proc'): Promise<DeviceWriter[]> {
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  const writers: DeviceWriter[] = [];
  await Promise.all(
    pids.map(async (pidText) => {
      const pid = Number(pidText);
      if (pid === process.pid) return;
      const fdDir = join(procRoot, pidText, 'fd');
      const fds = await readdir(fdDir).catch(() => [] as string[]);
      for (const fd of fds) {
        const target = await readlink(join(fdDir, fd)).catch(() => '');
        if (!paths.has(target)) continue;
        const fdinfo = await readFile(join(procRoot, pidText, 'fdinfo', fd), 'utf8').catch(() => '');
        if (!opensForWriting(fdinfo)) continue;
        const cmdline = await readFile(join(procRoot, pidText, 'cmdline'), 'utf8').catch(() => '');
        writers.push({ pid, command: cmdline.split('\0').filter(Boolean).join(' ').slice(0, 200), path: target });
        return;
      }
    }),
  );
  return writers.sort((a, b) => a.pid - b.pid);
}
