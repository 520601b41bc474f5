/**
 * CPU facts as IPA reports them (reference §11): `lscpu` keys, the frequency as lscpu's
 * string (max MHz, else current MHz), flags from the first `flags`/`Features` line of
 * /proc/cpuinfo.
 */
import { readFile } from 'node:fs/promises';
import type { Exec } from '../step-context.js';
import type { InventoryCpu } from './types.js';

/** `Key:   value` lines to a map with lower-cased keys, as IPA's `get_cpus` builds it. */
export function parseLscpu(stdout: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    // lscpu repeats some keys per cache level or NUMA node; the first one is the summary.
    if (key && !fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  return fields;
}

export function parseCpuFlags(cpuinfo: string): string[] {
  const line = cpuinfo.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return line
    ? line
        .slice(line.indexOf(':') + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean)
    : [];
}

function toInt(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : null;
}

export function cpuFromLscpu(fields: Map<string, string>, flags: string[]): InventoryCpu {
  return {
    model_name: fields.get('model name') ?? null,
    frequency: fields.get('cpu max mhz') ?? fields.get('cpu mhz') ?? null,
    count: toInt(fields.get('cpu(s)')) ?? 0,
    architecture: fields.get('architecture') ?? null,
    flags,
    socket_count: toInt(fields.get('socket(s)')),
  };
}

export async function getCpu(exec: Exec, procRoot = '/proc'): Promise<InventoryCpu> {
  const [lscpu, cpuinfo] = await Promise.all([
    exec('lscpu', [], { timeoutMs: 10_000, quiet: true }),
    readFile(`${procRoot}/cpuinfo`, 'utf8').catch(() => ''),
  ]);
  return cpuFromLscpu(parseLscpu(lscpu.stdout), parseCpuFlags(cpuinfo));
}
