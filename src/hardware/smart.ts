/**
 * Disk health from `smartctl --json -a`: one summary for SATA/ATA, SAS/SCSI and NVMe disks
 * (the drive's overall self-assessment, reallocated and pending sectors, NVMe critical
 * warnings, media errors, wear) and the problems found against limits. Used by the
 * inventory (extra `smart` key per disk) and by the check_disk_health step. smartctl's JSON
 * is parsed with zod: only the keys read here are typed, everything else passes through.
 */
import { z } from 'zod';
import type { Exec } from './exec.js';

const attribute = z.looseObject({
  id: z.number(),
  name: z.string(),
  value: z.number().optional(),
  thresh: z.number().optional(),
  when_failed: z.string().optional(),
  raw: z.looseObject({ value: z.number() }),
});

const scsiCounters = z.looseObject({ total_uncorrected_errors: z.number().optional() });

const smartctlJson = z.looseObject({
  smartctl: z
    .looseObject({
      exit_status: z.number().optional(),
      messages: z.array(z.looseObject({ string: z.string(), severity: z.string().optional() })).optional(),
    })
    .optional(),
  device: z.looseObject({ name: z.string().optional(), protocol: z.string().optional() }).optional(),
  model_name: z.string().optional(),
  serial_number: z.string().optional(),
  smart_status: z.looseObject({ passed: z.boolean().optional() }).optional(),
  temperature: z.looseObject({ current: z.number().optional() }).optional(),
  power_on_time: z.looseObject({ hours: z.number().optional() }).optional(),
  ata_smart_attributes: z.looseObject({ table: z.array(attribute) }).optional(),
  ata_smart_data: z
    .looseObject({
      self_test: z
        .looseObject({
          status: z.looseObject({ value: z.number(), string: z.string().optional(), passed: z.boolean().optional() }),
        })
        .optional(),
    })
    .optional(),
  nvme_smart_health_information_log: z
    .looseObject({
      critical_warning: z.number().optional(),
      media_errors: z.number().optional(),
      percentage_used: z.number().optional(),
      available_spare: z.number().optional(),
      available_spare_threshold: z.number().optional(),
    })
    .optional(),
  nvme_self_test_log: z
    .looseObject({
      current_self_test_operation: z.looseObject({ value: z.number(), string: z.string().optional() }).optional(),
      current_self_test_completion_percent: z.number().optional(),
      table: z
        .array(z.looseObject({ self_test_result: z.looseObject({ value: z.number(), string: z.string().optional() }) }))
        .optional(),
    })
    .optional(),
  scsi_grown_defect_list: z.number().optional(),
  scsi_error_counter_log: z
    .looseObject({ read: scsiCounters.optional(), write: scsiCounters.optional(), verify: scsiCounters.optional() })
    .optional(),
  scsi_percentage_used_endurance_indicator: z.number().optional(),
});

export type SmartctlJson = z.infer<typeof smartctlJson>;

/** Limits a health check applies; IPA has none, a new disk in burn-in should show zero. */
export interface HealthLimits {
  maxReallocatedSectors: number;
  maxPendingSectors: number;
  maxMediaErrors: number;
  /** NVMe/SCSI endurance used, percent of rated life. */
  maxPercentageUsed: number;
}

export const DEFAULT_HEALTH_LIMITS: HealthLimits = {
  maxReallocatedSectors: 0,
  maxPendingSectors: 0,
  maxMediaErrors: 0,
  maxPercentageUsed: 100,
};

export interface HealthProblem {
  /** What failed: `smart_status`, `reallocated_sectors`, `critical_warning`, `attribute 5 Reallocated_Sector_Ct`, ... */
  attribute: string;
  value: number | boolean | string;
  limit: number | string | null;
  message: string;
}

/** The per-disk summary, with snake_case keys: it goes on the wire in the inventory. */
export interface DiskHealth {
  /** smartctl could read health data from the drive. */
  available: boolean;
  /** Why not, when unavailable (smartctl's own message). */
  message: string | null;
  protocol: string | null;
  /** No problem against the limits; null when nothing could be read. */
  passed: boolean | null;
  /** The drive's own overall self-assessment (SMART overall-health). */
  smart_status_passed: boolean | null;
  temperature_celsius: number | null;
  power_on_hours: number | null;
  /** ATA attribute 5 (raw), SCSI grown defect list. */
  reallocated_sectors: number | null;
  /** ATA attribute 197 (raw). */
  pending_sectors: number | null;
  /** ATA attribute 198 (raw). */
  offline_uncorrectable: number | null;
  /** NVMe media and data integrity errors; SCSI uncorrected read/write/verify errors. */
  media_errors: number | null;
  /** NVMe critical warning bit field (0 = none). */
  critical_warning: number | null;
  /** NVMe percentage used, SCSI percentage used endurance indicator. */
  percentage_used: number | null;
  problems: HealthProblem[];
}

/** NVMe critical warning bits (NVM Express base specification, SMART / Health log, byte 0). */
const CRITICAL_WARNING_BITS = [
  'available spare below threshold',
  'temperature outside its thresholds',
  'NVM subsystem reliability degraded',
  'media placed in read-only mode',
  'volatile memory backup device failed',
  'persistent memory region read-only or unreliable',
];

export function describeCriticalWarning(value: number): string {
  const bits = CRITICAL_WARNING_BITS.filter((_, bit) => (value & (1 << bit)) !== 0);
  return bits.length > 0 ? bits.join(', ') : `unknown bits 0x${value.toString(16)}`;
}

export function parseSmartctlJson(stdout: string): SmartctlJson {
  return smartctlJson.parse(JSON.parse(stdout));
}

function ataRaw(json: SmartctlJson, id: number): number | null {
  return json.ata_smart_attributes?.table.find((a) => a.id === id)?.raw.value ?? null;
}

function scsiUncorrected(json: SmartctlJson): number | null {
  const log = json.scsi_error_counter_log;
  if (!log) return null;
  const counts = [log.read, log.write, log.verify].map((c) => c?.total_uncorrected_errors).filter((n) => n !== undefined);
  return counts.length > 0 ? counts.reduce((a, b) => a + b, 0) : null;
}

/** The health summary of one smartctl --json document, checked against `limits`. */
export function summariseHealth(json: SmartctlJson, limits: HealthLimits = DEFAULT_HEALTH_LIMITS): DiskHealth {
  const nvme = json.nvme_smart_health_information_log;
  const hasData =
    json.smart_status?.passed !== undefined ||
    json.ata_smart_attributes !== undefined ||
    nvme !== undefined ||
    json.scsi_grown_defect_list !== undefined ||
    json.scsi_error_counter_log !== undefined;
  const messages = (json.smartctl?.messages ?? []).map((m) => m.string);
  const health: DiskHealth = {
    available: hasData,
    message: hasData ? null : messages.join('; ') || 'smartctl returned no health data',
    protocol: json.device?.protocol ?? null,
    passed: null,
    smart_status_passed: json.smart_status?.passed ?? null,
    temperature_celsius: json.temperature?.current ?? null,
    power_on_hours: json.power_on_time?.hours ?? null,
    reallocated_sectors: ataRaw(json, 5) ?? json.scsi_grown_defect_list ?? null,
    pending_sectors: ataRaw(json, 197),
    offline_uncorrectable: ataRaw(json, 198),
    media_errors: nvme?.media_errors ?? scsiUncorrected(json),
    critical_warning: nvme?.critical_warning ?? null,
    percentage_used: nvme?.percentage_used ?? json.scsi_percentage_used_endurance_indicator ?? null,
    problems: [],
  };
  if (!hasData) return health;

  const problems = health.problems;
  if (health.smart_status_passed === false) {
    problems.push({
      attribute: 'smart_status',
      value: false,
      limit: null,
      message: 'SMART overall-health self-assessment: FAILED',
    });
  }
  for (const attr of json.ata_smart_attributes?.table ?? []) {
    if (attr.when_failed === 'now') {
      problems.push({
        attribute: `attribute ${attr.id} ${attr.name}`,
        value: attr.value ?? attr.raw.value,
        limit: attr.thresh ?? null,
        message: `attribute ${attr.id} ${attr.name} is failing now (normalised ${attr.value} at or below threshold ${attr.thresh})`,
      });
    }
  }
  const over = (attribute: keyof DiskHealth & string, value: number | null, limit: number, what: string) => {
    if (value !== null && value > limit) {
      problems.push({ attribute, value, limit, message: `${what} ${value} exceeds ${limit}` });
    }
  };
  over('reallocated_sectors', health.reallocated_sectors, limits.maxReallocatedSectors, 'reallocated sectors');
  over('pending_sectors', health.pending_sectors, limits.maxPendingSectors, 'pending sectors');
  over('offline_uncorrectable', health.offline_uncorrectable, limits.maxPendingSectors, 'offline uncorrectable sectors');
  over('media_errors', health.media_errors, limits.maxMediaErrors, 'media errors');
  if (health.critical_warning) {
    problems.push({
      attribute: 'critical_warning',
      value: health.critical_warning,
      limit: 0,
      message: `NVMe critical warning 0x${health.critical_warning.toString(16).padStart(2, '0')}: ${describeCriticalWarning(health.critical_warning)}`,
    });
  }
  if (health.percentage_used !== null && health.percentage_used >= limits.maxPercentageUsed) {
    problems.push({
      attribute: 'percentage_used',
      value: health.percentage_used,
      limit: limits.maxPercentageUsed,
      message: `wear ${health.percentage_used}% of rated endurance reaches ${limits.maxPercentageUsed}%`,
    });
  }
  health.passed = problems.length === 0;
  return health;
}

/** Self-test state of a drive, from the same JSON (`-a` or `-c -l selftest`). */
export interface SelfTestStatus {
  state: 'running' | 'passed' | 'failed' | 'unknown';
  text: string;
}

export function selfTestStatus(json: SmartctlJson): SelfTestStatus {
  const ata = json.ata_smart_data?.self_test?.status;
  if (ata) {
    // ATA: status value 0xF0-0xFF is "in progress" (low nibble = remaining tenths); 0 = completed without error.
    const text = ata.string ?? `status ${ata.value}`;
    if (ata.value >> 4 === 0xf) return { state: 'running', text };
    return { state: ata.value === 0 || ata.passed === true ? 'passed' : 'failed', text };
  }
  const nvme = json.nvme_self_test_log;
  if (nvme) {
    if (nvme.current_self_test_operation && nvme.current_self_test_operation.value !== 0) {
      const percent = nvme.current_self_test_completion_percent;
      return { state: 'running', text: `in progress${percent === undefined ? '' : `, ${percent}% done`}` };
    }
    const last = nvme.table?.[0]?.self_test_result;
    if (!last) return { state: 'unknown', text: 'no self-test recorded' };
    return { state: last.value === 0 ? 'passed' : 'failed', text: last.string ?? `result ${last.value}` };
  }
  return { state: 'unknown', text: 'smartctl reports no self-test status for this drive' };
}

/** smartctl's exit status is a bit mask; its JSON says what it found, so every code is read. */
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

export async function readSmartctl(
  exec: Exec,
  device: string,
  args: string[] = ['-a'],
  timeoutMs = 60_000,
): Promise<SmartctlJson> {
  const { stdout } = await exec('smartctl', ['--json', ...args, device], { okExitCodes: ANY_EXIT, quiet: true, timeoutMs });
  return parseSmartctlJson(stdout);
}

/** The health of one disk; a disk smartctl cannot read is reported unavailable, never thrown. */
export async function readDiskHealth(exec: Exec, device: string, limits?: HealthLimits, timeoutMs?: number): Promise<DiskHealth> {
  try {
    return summariseHealth(await readSmartctl(exec, device, ['-a'], timeoutMs), limits);
  } catch (error) {
    return {
      ...summariseHealth({}, limits),
      message: `smartctl could not be read: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
