/**
 * IPA's `dmi-decode` collector (dmi_inspector.py): BIOS, processors and memory from
 * `dmidecode -t bios -t processor -t memory`, as `{bios, cpu, memory: {..., devices}}` with
 * dmidecode's own field names as keys, exactly as IPA shapes them.
 */
import type { Exec } from '../step-context.js';

type DmiSection = Record<string, string | string[] | number>;
export interface DmiInfo {
  bios: DmiSection;
  cpu: DmiSection[];
  memory: DmiSection & { devices?: DmiSection[] };
}

const DMI_TYPE = { bios: 0, cpu: 4, memory: 16, devices: 17 } as const;

/** IPA's `_parse_handle_block`: `Key: value` rows; a key with no value collects the indented lines below it. */
function parseHandleBlock(block: string): DmiSection {
  const rows: DmiSection = {};
  let listKey: string | undefined;
  for (const raw of block.split('\n')) {
    const line = raw.trim();
    if (line.includes(':')) {
      const at = line.indexOf(':');
      const key = line.slice(0, at).trim();
      const value = line.slice(at + 1).trim();
      listKey = value ? undefined : key;
      rows[key] = value || [];
    } else if (line.includes('Handle 0x')) {
      rows.Handle = line;
    } else if (listKey !== undefined) {
      (rows[listKey] as string[]).push(line);
    }
  }
  return rows;
}

export function parseDmi(text: string): DmiInfo {
  const info: DmiInfo = { bios: {}, cpu: [], memory: { devices: [] } };
  const memory: DmiSection[] = [];
  const devices: DmiSection[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.startsWith('Handle 0x')) continue;
    // "Handle 0x0018, DMI type 17, 27 bytes"
    const type = Number.parseInt((block.split(',')[1] ?? '').trim().slice('DMI type'.length), 10);
    if (!Number.isInteger(type)) continue;
    if (type === DMI_TYPE.bios) info.bios = parseHandleBlock(block);
    else if (type === DMI_TYPE.cpu) info.cpu.push(parseHandleBlock(block));
    else if (type === DMI_TYPE.memory) memory.push(parseHandleBlock(block));
    else if (type === DMI_TYPE.devices) devices.push(parseHandleBlock(block));
  }
  if (memory.length > 0) {
    // IPA replaces the memory dict with the first array's, summing the device slots of all.
    const count = memory.reduce((sum, m) => sum + Number.parseInt(String(m['Number Of Devices']), 10), 0);
    if (memory.some((m) => m['Number Of Devices'] === undefined))
      throw new Error("Failed to process memory dmi data: 'Number Of Devices'");
    const { Handle: _handle, ...first } = memory[0]!;
    info.memory = { ...first, 'Number Of Devices': count };
  }
  if (devices.length > 0) info.memory.devices = devices;
  return info;
}

export async function collectDmi(exec: Exec): Promise<DmiInfo> {
  const { stdout } = await exec('dmidecode', ['-t', 'bios', '-t', 'processor', '-t', 'memory'], {
    timeoutMs: 60_000,
    quiet: true,
  });
  return parseDmi(stdout);
}
