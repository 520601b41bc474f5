/**
 * IPA's efi_utils.clean_boot_records, as a plan: which `efibootmgr -v` entries (read by the
 * contract's parseBootRecords, IPA's get_boot_records) match the patterns and would be removed. Kept apart from running efibootmgr so
 * the decision is tested against captured outputs without touching any NVRAM.
 */
import { InvalidCommandParamsError, pythonRepr, type BootRecord } from '../../src/hardware/index.js';

/** IPA's DEFAULT_CLEAN_UEFI_NVRAM_MATCH_PATTERNS. */
export const DEFAULT_MATCH_PATTERNS = ['^HD\\(', 'shim.*\\.efi', 'grub.*\\.efi'];

export interface PlannedRemoval extends BootRecord {
  pattern: string;
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
