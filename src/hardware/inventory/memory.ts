/**
 * Memory: `total` = MemTotal in bytes (what psutil reports to IPA); `physical_mb` = the
 * installed DIMMs summed from SMBIOS type 17 (`dmidecode`), which is what IPA sums from
 * lshw's memory banks. Without dmidecode (or without SMBIOS, as in containers)
 * `physical_mb` is null, as IPA's is without lshw.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';
import type { InventoryMemory } from './types.js';

const UNIT_MIB: Record<string, number> = { KB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 };

export function parseMemTotal(meminfo: string): number | null {
  const match = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return match ? Number(match[1]) * 1024 : null;
}

/** Sum of `Size:` of the Memory Device (type 17) records; null when there are none. */
export function parseDmidecodeMemory(stdout: string): number | null {
  let total = 0;
  let found = false;
  for (const record of stdout.split(/\n\s*\n/)) {
    if (!/^Memory Device$/m.test(record)) continue;
    const size = /^\s*Size:\s*(\d+)\s*(KB|MB|GB|TB)\s*$/m.exec(record);
    if (!size) continue; // "No Module Installed"
    total += Number(size[1]) * UNIT_MIB[size[2]!]!;
    found = true;
  }
  return found ? Math.floor(total) : null;
}

export async function getMemory(
  exec: Exec,
  options: { hasDmidecode: boolean; log?: Logger; procRoot?: string },
): Promise<InventoryMemory> {
  const meminfo = await readFile(`${options.procRoot ?? '/proc'}/meminfo`, 'utf8').catch(() => '');
  let physical: number | null = null;
  if (options.hasDmidecode) {
    try {
      const { stdout } = await exec('dmidecode', ['--type', '17'], { timeoutMs: 10_000, quiet: true });
      physical = parseDmidecodeMemory(stdout);
      if (physical === null) options.log?.warn('Did not find any physical RAM');
    } catch (error) {
      options.log?.warn({ err: error }, 'Could not get real physical RAM from dmidecode');
    }
  }
  return { total: parseMemTotal(meminfo), physical_mb: physical };
}
