/**
 * IPA's efi_utils.get_boot_records and clean_boot_records, as a plan: which `efibootmgr -v`
 * entries match the patterns and would be removed. Kept apart from running efibootmgr so
 * the decision is tested against captured outputs without touching any NVRAM.
 */
import { InvalidCommandParamsError, pythonRepr } from '../../src/hardware/index.js';

/** IPA's DEFAULT_CLEAN_UEFI_NVRAM_MATCH_PATTERNS. */
export const DEFAULT_MATCH_PATTERNS = ['^HD\\(', 'shim.*\\.efi', 'grub.*\\.efi'];

export interface BootRecord {
  /** `0001`, as efibootmgr -b wants it. */
  bootNum: string;
  label: string;
  /** The device path: `HD(1,GPT,...)/File(\EFI\...)`, `PciRoot(...)`, ... */
  path: string;
}

export interface PlannedRemoval extends BootRecord {
  pattern: string;
}

// IPA's _ENTRY_LABEL.
const ENTRY = /^Boot([0-9a-fA-F-]+)\*?\s+(.*?)\s+((BBS|HD|FvFile|FvVol|PciRoot|VenMsg|VenHw|UsbClass)\(.*)$/;

/**
 * Some efibootmgr builds print UTF-16; through a UTF-8 reader every ASCII character then
 * comes with a NUL (and the byte-order mark as U+FFFD). IPA decodes UTF-16 first when the
 * `BootCurrent: ` line appears that way; here the NULs are dropped.
 */
function decodeEfibootmgrOutput(text: string): string {
  if (/^BootCurrent: /m.test(text)) return text;
  return text.replace(/[\u0000\ufeff\ufffd]/g, '');
}

export function parseBootRecords(output: string): BootRecord[] {
  const records: BootRecord[] = [];
  for (const line of decodeEfibootmgrOutput(output).split('\n')) {
    const match = ENTRY.exec(line.replace(/\r$/, ''));
    if (match) records.push({ bootNum: match[1]!, label: match[2]!, path: match[3]! });
  }
  return records;
}

/** Python `re` syntax JavaScript spells differently: named groups and their back-references. */
function toJsPattern(pattern: string): string {
  return pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
}

/** IPA's validation of `match_patterns`, with its message; patterns match case-insensitively. */
export function compileMatchPatterns(matchPatterns: unknown): Array<{ source: string; regex: RegExp }> {
  const patterns = matchPatterns ?? DEFAULT_MATCH_PATTERNS;
  const invalid = () => new InvalidCommandParamsError(`The match_patterns must be a list of strings: ${pythonRepr(patterns)}`);
  if (!Array.isArray(patterns)) throw invalid();
  return patterns.map((item: unknown) => {
    if (typeof item !== 'string') throw invalid();
    try {
      return { source: item, regex: new RegExp(toJsPattern(item), 'i') };
    } catch {
      throw invalid();
    }
  });
}

/** Each record whose device path matches a pattern (the first that matches is named). */
export function planRemovals(
  records: readonly BootRecord[],
  patterns: ReadonlyArray<{ source: string; regex: RegExp }>,
): PlannedRemoval[] {
  const planned: PlannedRemoval[] = [];
  for (const record of records) {
    const hit = patterns.find((p) => p.regex.test(record.path));
    if (hit) planned.push({ ...record, pattern: hit.source });
  }
  return planned;
}
