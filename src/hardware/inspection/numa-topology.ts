/**
 * IPA's `numa-topology` collector (numa_inspector.py): memory, CPU cores with their thread
 * siblings, and NICs per NUMA node, from /sys/devices/system/node and /sys/class/net.
 * Any unexpected format makes the whole collector report nothing, as in IPA.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../logger.js';

/**
 * sysfs order by number (cpu2 before cpu10); names without one (cpulist, cpumap) after, by
 * code unit. Not localeCompare's numeric collation: it pages in ICU's data (~2.7 MiB).
 */
function byNumberAfter(prefix: string): (a: string, b: string) => number {
  const numberOf = (name: string) => (/^\d+$/.test(name.slice(prefix.length)) ? Number(name.slice(prefix.length)) : Infinity);
  return (a, b) => numberOf(a) - numberOf(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export interface NumaTopology {
  ram: Array<{ numa_node: number; size_kb: number }>;
  cpus: Array<{ cpu: number; numa_node: number; thread_siblings: number[] }>;
  nics: Array<{ name: string; numa_node: number }>;
}

class IncompatibleNumaFormatError extends Error {}

const UNIT_KB: Record<string, number> = { kB: 1, KB: 1, MB: 1024, GB: 1024 * 1024 };

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

function nodeId(dir: string): number {
  const id = Number(dir.slice(dir.lastIndexOf('/') + 1).slice(4));
  if (!Number.isInteger(id)) throw new IncompatibleNumaFormatError(`Failed to get NUMA node id for ${dir}`);
  return id;
}

/** `Node 0 MemTotal:       16318496 kB` → 16318496 (pint with kB as the base unit in IPA). */
export function memTotalKb(meminfo: string, dir = ''): number {
  const line = meminfo.split('\n').find((l) => l.includes('MemTotal'));
  if (!line) throw new IncompatibleNumaFormatError(`Memory information is not available for ${dir}`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*(kB|KB|MB|GB)?\s*$/.exec(line.split(':')[1] ?? '');
  if (!match) throw new IncompatibleNumaFormatError(`Failed to get memory information for ${dir}`);
  return Math.trunc(Number(match[1]) * (match[2] ? UNIT_KB[match[2]]! : 1));
}

async function ram(dirs: readonly string[]): Promise<NumaTopology['ram']> {
  return Promise.all(
    dirs.map(async (dir) => {
      const id = nodeId(dir);
      const text = await readFile(join(dir, 'meminfo'), 'utf8').catch((error: Error) => {
        throw new IncompatibleNumaFormatError(`Failed to get memory information for ${dir}: ${error.message}`);
      });
      return { numa_node: id, size_kb: memTotalKb(text, dir) };
    }),
  );
}

async function cpus(dirs: readonly string[]): Promise<NumaTopology['cpus']> {
  const byCore = new Map<string, NumaTopology['cpus'][number]>();
  for (const dir of dirs) {
    const id = nodeId(dir);
    const threads = (await readdir(dir)).filter((name) => /^cpu/.test(name)).sort(byNumberAfter('cpu'));
    for (const thread of threads) {
      if (!(await isDir(join(dir, thread)))) continue;
      const threadId = Number(thread.slice(3));
      if (!Number.isInteger(threadId)) throw new IncompatibleNumaFormatError(`Failed to get cores information for ${dir}`);
      const coreText = await readFile(join(dir, thread, 'topology', 'core_id'), 'utf8').catch(() => '');
      const core = Number.parseInt(coreText.trim(), 10);
      if (!Number.isInteger(core))
        throw new IncompatibleNumaFormatError(`Failed to gather cpu_id for thread${thread} NUMA node ${dir}`);
      const key = `${id}:${core}`;
      const known = byCore.get(key);
      if (!known) byCore.set(key, { thread_siblings: [threadId], cpu: core, numa_node: id });
      else if (!known.thread_siblings.includes(threadId)) known.thread_siblings.push(threadId);
    }
  }
  return [...byCore.values()];
}

async function nics(netDir: string): Promise<NumaTopology['nics']> {
  if (!(await isDir(netDir)))
    throw new IncompatibleNumaFormatError(`Failed to get list of NIC's, NIC device path does not exist: ${netDir}`);
  const found: NumaTopology['nics'] = [];
  for (const name of (await readdir(netDir)).sort()) {
    const text = await readFile(join(netDir, name, 'device', 'numa_node'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const id = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(id)) throw new IncompatibleNumaFormatError(`Failed to gather NIC's for NUMA node ${name}`);
    found.push({ name, numa_node: id });
  }
  return found;
}

/** undefined when the machine has no NUMA information or it cannot be read (logged). */
export async function collectNumaTopology(sysRoot = '/sys', log: Logger = silentLogger): Promise<NumaTopology | undefined> {
  const nodeRoot = join(sysRoot, 'devices', 'system', 'node');
  if (!(await isDir(nodeRoot))) {
    log.warn({ path: nodeRoot }, 'Failed to get list of NUMA nodes, NUMA node path does not exist');
    return undefined;
  }
  const names = (await readdir(nodeRoot)).filter((n) => n.startsWith('node')).sort(byNumberAfter('node'));
  const dirs = (
    await Promise.all(names.map(async (n) => ((await isDir(join(nodeRoot, n))) ? join(nodeRoot, n) : undefined)))
  ).filter((d): d is string => d !== undefined);
  try {
    return { ram: await ram(dirs), cpus: await cpus(dirs), nics: await nics(join(sysRoot, 'class', 'net')) };
  } catch (error) {
    if (!(error instanceof IncompatibleNumaFormatError)) throw error;
    log.warn({ err: error }, 'Failed to get some NUMA information');
    return undefined;
  }
}
