/**
 * check_disk_health: reads every disk's SMART health (`smartctl --json -a`, summarised by
 * the shared parser the inventory uses too) and fails naming each failing disk and
 * attribute: overall self-assessment, reallocated and pending sectors, NVMe critical
 * warnings, media errors, wear. Optionally runs a SMART self-test on every disk first.
 * Nothing is written, but which disks it looks at follows the same target rules as the
 * other disk steps (outside a ramdisk only allow-listed devices).
 */
import { z } from 'zod';
import {
  CleaningError,
  DEFAULT_HEALTH_LIMITS,
  hasCommand,
  listTargetDisks,
  readDiskHealth,
  type HealthLimits,
  type StepContext,
} from '../../src/hardware/index.js';
import { flag, integer } from './knobs.js';
import { BurninProgress } from './progress.js';
import { assertPassed, round, type BurninReport, type PartReport } from './report.js';
import { runSelfTests } from './self-test.js';

export const healthArgs = z.object({
  self_test: z
    .enum(['none', 'short', 'long'])
    .default('none')
    .describe('Run a SMART self-test on every disk before reading health'),
  max_reallocated_sectors: integer.optional().describe('Reallocated sectors tolerated per disk (default 0)'),
  max_pending_sectors: integer.optional().describe('Pending and offline-uncorrectable sectors tolerated per disk (default 0)'),
  max_media_errors: integer.optional().describe('Media (NVMe) or uncorrected (SCSI) errors tolerated per disk (default 0)'),
  max_percentage_used: integer.optional().describe('Wear, percent of rated endurance, at which a disk fails (default 100)'),
  fail_if_unavailable: flag.optional().describe('Fail a disk whose SMART data cannot be read (default false: noted only)'),
});

export async function checkDiskHealth(ctx: StepContext, args: z.output<typeof healthArgs>): Promise<BurninReport> {
  if (!(await hasCommand('smartctl')))
    throw new CleaningError('check_disk_health needs smartctl (smartmontools), which is not installed');
  const limits: HealthLimits = {
    maxReallocatedSectors: args.max_reallocated_sectors ?? DEFAULT_HEALTH_LIMITS.maxReallocatedSectors,
    maxPendingSectors: args.max_pending_sectors ?? DEFAULT_HEALTH_LIMITS.maxPendingSectors,
    maxMediaErrors: args.max_media_errors ?? DEFAULT_HEALTH_LIMITS.maxMediaErrors,
    maxPercentageUsed: args.max_percentage_used ?? DEFAULT_HEALTH_LIMITS.maxPercentageUsed,
  };
  const { targets, skipped } = await listTargetDisks(ctx.exec, ctx.guard, { node: ctx.node });
  const disks = targets.filter((d) => d.type !== 'file');
  if (disks.length === 0) throw new CleaningError('check_disk_health found no disk to check');
  const startedAt = new Date();
  const progress = new BurninProgress(ctx.progress, 'check_disk_health');
  const parts: PartReport[] = disks.map((d) => ({ name: d.path, passed: true, failures: [] }));
  try {
    if (args.self_test !== 'none') {
      progress.phase(`SMART ${args.self_test} self-test`, null);
      await runSelfTests(
        ctx,
        disks.map((d) => d.path),
        args.self_test,
        parts,
        progress,
      );
    }
    progress.phase('reading SMART health', null);
    await Promise.all(
      parts.map(async (part) => {
        const health = await readDiskHealth(ctx.exec, part.name, limits);
        part.smart = health;
        if (!health.available) {
          if (args.fail_if_unavailable) {
            part.passed = false;
            part.failures.push(`SMART data unavailable (${health.message})`);
          }
        } else if (health.problems.length > 0) {
          part.passed = false;
          part.failures.push(...health.problems.map((p) => `${p.attribute}: ${p.message}`));
        }
        progress.part(part.name, {
          state: part.passed ? 'passed' : 'failed',
          passed: health.passed,
          problems: health.problems.length,
        });
      }),
    );
  } finally {
    progress.close(parts.every((p) => p.passed) ? 'done' : 'failed');
  }
  return assertPassed(
    {
      step: 'check_disk_health',
      tool: 'smartctl',
      commands: parts.map((p) => `smartctl --json -a ${p.name}`),
      started_at: startedAt.toISOString(),
      duration_seconds: round((Date.now() - startedAt.getTime()) / 1000),
      planned_seconds: null,
      passed: true,
      parts,
      skipped: [
        ...skipped.map((s) => ({ device: s.device.path, reason: s.reason })),
        ...targets.filter((d) => d.type === 'file').map((d) => ({ device: d.path, reason: 'plain file, no SMART' })),
      ],
      thresholds: {
        max_reallocated_sectors: limits.maxReallocatedSectors,
        max_pending_sectors: limits.maxPendingSectors,
        max_media_errors: limits.maxMediaErrors,
        max_percentage_used: limits.maxPercentageUsed,
      },
    },
    ctx.log,
  );
}
