/**
 * IPA's `clean_uefi_nvram` clean and deploy step (priority 0, manual): removes the UEFI boot
 * entries whose device path matches `match_patterns` (default: disk entries, shim and grub
 * loaders), so a re-provisioned machine does not keep booting an old installation.
 *
 * Refused outside a ramdisk: efibootmgr writes the NVRAM of the machine the agent runs on,
 * and a developer's or CI host's firmware is not ours to change.
 */
import { z } from 'zod';
import {
  CommandExecutionError,
  bootedInUefi,
  defineHardwareManager,
  defineStep,
  hasCommand,
  HardwareSupport,
  parseBootRecords,
  type StepContext,
} from '../../src/hardware/index.js';
import { compileMatchPatterns, DEFAULT_MATCH_PATTERNS, planRemovals, type PlannedRemoval } from './boot-records.js';

const args = z.object({
  match_patterns: z
    .unknown()
    .optional()
    .describe(
      'Json blob contains a list of regex patterns where any UEFI NVRAM entry matching that pattern will be deleted. ' +
        `Default value is '["${DEFAULT_MATCH_PATTERNS.join('", "')}"]'`,
    ),
});

export async function cleanUefiNvram(ctx: StepContext, matchPatterns: unknown): Promise<{ removed: PlannedRemoval[] }> {
  const patterns = compileMatchPatterns(matchPatterns);
  if (!(await ctx.guard.inRamdisk())) {
    throw new CommandExecutionError(
      'clean_uefi_nvram changes the UEFI NVRAM of the machine the agent runs on and is refused outside a ramdisk',
    );
  }
  if (!(await bootedInUefi())) {
    throw new CommandExecutionError(
      'the agent was not booted in UEFI mode (/sys/firmware/efi is missing): there is no UEFI NVRAM to clean',
    );
  }
  if (!(await hasCommand('efibootmgr'))) throw new CommandExecutionError('efibootmgr is not available in the ramdisk');
  const { stdout } = await ctx.exec('efibootmgr', ['-v']);
  const removed = planRemovals(parseBootRecords(stdout), patterns);
  for (const entry of removed) {
    ctx.log.info(
      { bootNum: entry.bootNum, label: entry.label, path: entry.path, pattern: entry.pattern },
      'removing UEFI boot entry',
    );
    await ctx.exec('efibootmgr', ['-b', entry.bootNum, '-B']);
  }
  return { removed };
}

const cleanUefiNvramStep = defineStep({
  name: 'clean_uefi_nvram',
  description: 'Remove UEFI boot entries whose device path matches match_patterns.',
  clean: { priority: 0, interface: 'deploy', abortable: true },
  deploy: { priority: 0, interface: 'deploy' },
  args,
  run: (ctx, { match_patterns }) => cleanUefiNvram(ctx, match_patterns),
});

export default defineHardwareManager({
  name: 'uefi_nvram_hardware_manager',
  version: '1.0',
  className: 'UefiNvramHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  steps: [cleanUefiNvramStep],
});
