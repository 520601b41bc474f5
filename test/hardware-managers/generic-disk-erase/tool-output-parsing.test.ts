// Parsers for the tools a real drive answers to, on outputs captured from real drives
// (test/fixtures/erase/README.md says where each came from).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHdparmSecurity, parseSmartctlSecurity } from '../../../hardware-managers/generic-disk-erase/ata.js';
import { parseNvmeIdCtrl } from '../../../hardware-managers/generic-disk-erase/nvme.js';
import { parseDdProgressLine, parseShredLine } from '../../../hardware-managers/generic-disk-erase/overwrite.js';
import { gptSectors } from '../../../hardware-managers/generic-disk-erase/metadata.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'erase', name), 'utf8');
const hdparm = fixture('hdparm-I-wdc-wds400t2b0a-not-frozen.txt');

/** The same capture with one security line as hdparm prints another state (tab layout). */
function withSecurityLine(from: RegExp, to: string): string {
  const changed = hdparm.replace(from, to);
  expect(changed).not.toBe(hdparm);
  return changed;
}

describe('hdparm -I security section', () => {
  it('reads a supported, not enabled/locked/frozen drive with enhanced erase and its time estimate', () => {
    expect(parseHdparmSecurity(hdparm)).toEqual({
      lines: [
        'Master password revision code = 65534',
        'supported',
        'not enabled',
        'not locked',
        'not frozen',
        'not expired: security count',
        'supported: enhanced erase',
        '2min for SECURITY ERASE UNIT. 2min for ENHANCED SECURITY ERASE UNIT.',
      ],
      supported: true,
      enabled: false,
      locked: false,
      frozen: false,
      enhancedErase: true,
      estimatedMinutes: 2,
    });
  });

  it('sees a frozen drive', () => {
    expect(parseHdparmSecurity(withSecurityLine(/ {4}not {4}frozen/, '\t\tfrozen'))?.frozen).toBe(true);
  });

  it('sees a locked drive with a password set', () => {
    const text = withSecurityLine(/ {4}not {4}enabled\n {4}not {4}locked/, '\t\tenabled\n\t\tlocked');
    expect(parseHdparmSecurity(text)).toMatchObject({ enabled: true, locked: true });
  });

  it('falls back to the normal erase when enhanced erase is not supported', () => {
    const text = withSecurityLine(/ {8}supported: enhanced erase/, '\tnot\tsupported: enhanced erase');
    expect(parseHdparmSecurity(text)).toMatchObject({ enhancedErase: false, estimatedMinutes: 2 });
  });

  it('returns nothing for a device without a Security section', () => {
    expect(parseHdparmSecurity(hdparm.replace(/\nSecurity: \n[\s\S]*?(?=\nLogical Unit)/, ''))).toBeUndefined();
  });
});

describe('smartctl --json ata_security', () => {
  it('reads SEC1 (disabled, not frozen) from a real capture', () => {
    expect(parseSmartctlSecurity(fixture('smartctl-json-samsung-hd204ui-sec1.json'))).toEqual({
      available: true,
      protocol: 'ATA',
      state: 'Disabled, NOT FROZEN [SEC1]',
      frozen: false,
      enabled: false,
    });
  });

  it('treats a device without ata_security, or garbage, as not offering ATA security', () => {
    const withoutSecurity = JSON.parse(fixture('smartctl-json-samsung-hd204ui-sec1.json'));
    delete withoutSecurity.ata_security;
    expect(parseSmartctlSecurity(JSON.stringify(withoutSecurity)).available).toBe(false);
    expect(parseSmartctlSecurity('smartctl: not json').available).toBe(false);
  });
});

describe('nvme id-ctrl', () => {
  it('reads format and crypto-erase support from a real WDC SN730 capture', () => {
    expect(parseNvmeIdCtrl(fixture('nvme-id-ctrl-wdc-pc-sn730.json'))).toEqual({
      model: 'WDC PC SN730 SDBQNTY-256G-1001',
      serial: '1951B3444502',
      formatSupported: true,
      cryptoEraseSupported: true,
      formatErasesAllNamespaces: false,
    });
  });

  it('sees a format that erases every namespace when FNA bit 0 (format) or bit 1 (secure erase) is set', () => {
    const text = fixture('nvme-id-ctrl-wdc-pc-sn730.json');
    for (const fna of [1, 2, 5, 6]) {
      expect(parseNvmeIdCtrl(text.replace('"fna" : 4', `"fna" : ${fna}`)).formatErasesAllNamespaces, `fna ${fna}`).toBe(true);
    }
  });

  it('sees no format support when OACS bit 1 is clear and no crypto erase when FNA bit 2 is clear', () => {
    const text = fixture('nvme-id-ctrl-wdc-pc-sn730.json');
    expect(parseNvmeIdCtrl(text.replace('"oacs" : 23', '"oacs" : 21')).formatSupported).toBe(false);
    expect(parseNvmeIdCtrl(text.replace('"fna" : 4', '"fna" : 0')).cryptoEraseSupported).toBe(false);
  });
});

describe('progress lines', () => {
  it("parses shred --verbose lines (as printed by coreutils, captured in IPA's samples)", () => {
    expect(parseShredLine('shred: /dev/sda: pass 1/2 (random)...')).toEqual({
      pass: 1,
      passes: 2,
      pattern: 'random',
      bytesDone: undefined,
      percent: undefined,
    });
    expect(parseShredLine('shred: /dev/sda: pass 2/2 (000000)...4.9GiB/29GiB 17%')).toEqual({
      pass: 2,
      passes: 2,
      pattern: '000000',
      bytesDone: Math.round(4.9 * 1024 ** 3),
      percent: 17,
    });
    expect(parseShredLine('shred: /dev/sda: removing')).toBeUndefined();
  });

  it('parses dd status=progress lines', () => {
    expect(parseDdProgressLine('104857600 bytes (105 MB, 100 MiB) copied, 1 s, 105 MB/s')).toBe(104857600);
    expect(parseDdProgressLine('25+0 records in')).toBeUndefined();
  });
});

describe('metadata areas', () => {
  it("zeroes IPA's GPT area: 33 sectors of 512 bytes, 5 of 4096", () => {
    expect(gptSectors(512)).toBe(33);
    expect(gptSectors(4096)).toBe(5);
  });
});
