/**
 * How many connections the API holds at once. Every connection is a file descriptor, and the
 * agent needs descriptors of its own: the tools its steps run, the disks and images they
 * open. Without a bound, anyone on the provisioning network who opened a few thousand idle
 * connections took them all (the ramdisk's limit is the kernel's 4096), and a step failed with
 * EMFILE until the connections timed out. Past the bound Node closes a new connection as it is
 * accepted. IPA (eventlet) serves at most 1024 requests at once and leaves further connections
 * waiting in the kernel's backlog.
 */
import { readFileSync } from 'node:fs';

const MOST = 1024;
const LEAST = 16;

/** Half the process's open-file limit (the rest is the agent's own), at most 1024. */
export function connectionLimit(limitsFile = '/proc/self/limits'): number {
  let openFiles = Number.POSITIVE_INFINITY;
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line ? Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]) : NaN;
    if (Number.isFinite(soft)) openFiles = soft;
  } catch {
    // no /proc: the upper bound alone
  }
  return Math.max(LEAST, Math.min(MOST, Math.floor(openFiles / 2)));
}
