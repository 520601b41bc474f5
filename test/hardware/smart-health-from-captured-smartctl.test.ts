// The SMART health summary (inventory `smart` key, check_disk_health) on smartctl --json
// outputs captured from real SATA, SAS and NVMe drives (test/fixtures/smart/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSmartctlJson, selfTestStatus, summariseHealth } from '../../src/hardware/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'smart');
const capture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const health = (name: string) => summariseHealth(parseSmartctlJson(capture(name)));

describe('healthy drives pass', () => {
  it('SATA: overall passed, zero reallocated/pending sectors, temperature and hours read', () => {
    const h = health('sata-wdc-wd140edfz-healthy.json');
    expect(h).toMatchObject({
      available: true,
      protocol: 'ATA',
      passed: true,
      smart_status_passed: true,
      reallocated_sectors: 0,
      pending_sectors: 0,
      offline_uncorrectable: 0,
      media_errors: null,
      critical_warning: null,
      problems: [],
    });
    expect(h.temperature_celsius).toBeGreaterThan(0);
    expect(h.power_on_hours).toBeGreaterThan(0);
  });

  it('NVMe: no critical warning, no media errors, wear read', () => {
    expect(health('nvme-intel-ssdpeknw010t8-healthy.json')).toMatchObject({
      protocol: 'NVMe',
      passed: true,
      critical_warning: 0,
      media_errors: 0,
      percentage_used: 0,
      temperature_celsius: 36,
      power_on_hours: 2401,
    });
  });

  it('SAS: no grown defects, no uncorrected errors', () => {
    expect(health('sas-seagate-st1200mm0088-healthy.json')).toMatchObject({
      protocol: 'SCSI',
      passed: true,
      reallocated_sectors: 0,
      media_errors: 0,
      temperature_celsius: 31,
      power_on_hours: 5675,
    });
  });
});

describe('failing drives fail, naming the attribute', () => {
  it('SATA with a failed overall assessment, a failing attribute and pending sectors', () => {
    const h = health('sata-hitachi-hds721050dle630-failing.json');
    expect(h.passed).toBe(false);
    expect(h.smart_status_passed).toBe(false);
    expect(h.reallocated_sectors).toBe(1975);
    expect(h.pending_sectors).toBe(8);
    const attributes = h.problems.map((p) => p.attribute);
    expect(attributes).toEqual(
      expect.arrayContaining(['smart_status', 'attribute 5 Reallocated_Sector_Ct', 'reallocated_sectors', 'pending_sectors']),
    );
    expect(h.problems.find((p) => p.attribute === 'pending_sectors')?.message).toBe('pending sectors 8 exceeds 0');
  });

  it('NVMe whose overall status passes but which has media errors', () => {
    const h = health('nvme-samsung-970-evo-media-errors.json');
    expect(h.smart_status_passed).toBe(true);
    expect(h.passed).toBe(false);
    expect(h.problems).toEqual([{ attribute: 'media_errors', value: 7, limit: 0, message: 'media errors 7 exceeds 0' }]);
    // A limit the operator raised lets it pass.
    const tolerant = summariseHealth(parseSmartctlJson(capture('nvme-samsung-970-evo-media-errors.json')), {
      maxReallocatedSectors: 0,
      maxPendingSectors: 0,
      maxMediaErrors: 10,
      maxPercentageUsed: 100,
    });
    expect(tolerant.passed).toBe(true);
  });

  it('NVMe with a critical warning (bit 2 set on the healthy capture) names the decoded warning', () => {
    const json = JSON.parse(capture('nvme-intel-ssdpeknw010t8-healthy.json'));
    json.nvme_smart_health_information_log.critical_warning = 4;
    const h = summariseHealth(parseSmartctlJson(JSON.stringify(json)));
    expect(h.passed).toBe(false);
    expect(h.problems[0]).toMatchObject({ attribute: 'critical_warning', value: 4 });
    expect(h.problems[0]?.message).toBe('NVMe critical warning 0x04: NVM subsystem reliability degraded');
  });

  it('SAS with a grown defect list', () => {
    const h = health('sas-seagate-st4000nm0043-grown-defects.json');
    expect(h.smart_status_passed).toBe(true);
    expect(h.passed).toBe(false);
    expect(h.problems.map((p) => p.message)).toEqual(['reallocated sectors 56 exceeds 0']);
  });
});

describe('what smartctl cannot read', () => {
  it('is unavailable with smartctl’s own message, not a failure', () => {
    const h = summariseHealth(
      parseSmartctlJson(
        JSON.stringify({
          smartctl: {
            exit_status: 1,
            messages: [{ string: '/dev/loop3: Unable to detect device type', severity: 'error' }],
          },
        }),
      ),
    );
    expect(h).toMatchObject({ available: false, passed: null, message: '/dev/loop3: Unable to detect device type' });
  });
});

describe('self-test status', () => {
  it('reads the ATA self-test result', () => {
    expect(selfTestStatus(parseSmartctlJson(capture('sata-hitachi-hds721050dle630-failing.json')))).toEqual({
      state: 'passed',
      text: 'completed without error',
    });
    // The WDC capture was taken while a self-test ran.
    expect(selfTestStatus(parseSmartctlJson(capture('sata-wdc-wd140edfz-healthy.json')))).toEqual({
      state: 'running',
      text: 'in progress, 10% remaining',
    });
  });

  it('has no status for a drive that reports none', () => {
    expect(selfTestStatus(parseSmartctlJson(capture('sas-seagate-st1200mm0088-healthy.json'))).state).toBe('unknown');
  });
});
