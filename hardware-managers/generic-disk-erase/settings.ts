/**
 * IPA's erase tunables (reference §8.2). They travel in `node.driver_internal_info`, copied
 * there by the conductor from its `[deploy]` options; they are not agent settings.
 */
import { z } from 'zod';
import { InvalidCommandParamsError, type IronicNode } from '../../src/hardware/index.js';

/** Ironic sends booleans, but hand-made nodes carry "true"/"False" strings too. */
const flag = (fallback: boolean) =>
  z
    .union([z.boolean(), z.string(), z.number()])
    .optional()
    .transform((value) => {
      if (value === undefined) return fallback;
      if (typeof value === 'boolean') return value;
      const text = String(value).trim().toLowerCase();
      if (['1', 't', 'true', 'on', 'y', 'yes'].includes(text)) return true;
      if (['0', 'f', 'false', 'off', 'n', 'no'].includes(text)) return false;
      return fallback;
    });

const count = (fallback: number | undefined, min: number) =>
  z
    .union([z.number(), z.string()])
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number < min) {
        ctx.addIssue({ code: 'custom', message: `must be an integer ≥ ${min}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return number;
    });

const settingsSchema = z.object({
  agent_erase_devices_iterations: count(1, 0),
  agent_erase_devices_zeroize: flag(true),
  agent_continue_if_secure_erase_failed: flag(false).optional(),
  agent_continue_if_ata_erase_failed: flag(false),
  agent_enable_ata_secure_erase: flag(true),
  agent_enable_nvme_secure_erase: flag(true),
  agent_erase_skip_read_only: flag(false),
  // IPA defaults to 1; the issue asks for "all devices at once" when the conductor says nothing.
  disk_erasure_concurrency: count(undefined, 1),
  wipe_special_filesystems: flag(true),
});

export interface EraseSettings {
  iterations: number;
  zeroize: boolean;
  continueIfSecureEraseFailed: boolean;
  enableAtaSecureErase: boolean;
  enableNvmeSecureErase: boolean;
  skipReadOnly: boolean;
  /** undefined: every device at once. */
  concurrency: number | undefined;
  guardSpecialFilesystems: boolean;
}

export function eraseSettingsFromNode(node: IronicNode): EraseSettings {
  const internal = (node.driver_internal_info ?? {}) as Record<string, unknown>;
  const parsed = settingsSchema.safeParse(internal);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidCommandParamsError(`driver_internal_info.${issue?.path.join('.')} ${issue?.message}`);
  }
  const s = parsed.data;
  // The newer key wins; the legacy ATA-only key is honoured when the new one is absent.
  const continueIfFailed =
    internal.agent_continue_if_secure_erase_failed !== undefined
      ? (s.agent_continue_if_secure_erase_failed ?? false)
      : s.agent_continue_if_ata_erase_failed;
  return {
    iterations: s.agent_erase_devices_iterations ?? 1,
    zeroize: s.agent_erase_devices_zeroize,
    continueIfSecureEraseFailed: continueIfFailed,
    enableAtaSecureErase: s.agent_enable_ata_secure_erase,
    enableNvmeSecureErase: s.agent_enable_nvme_secure_erase,
    skipReadOnly: s.agent_erase_skip_read_only,
    concurrency: s.disk_erasure_concurrency,
    guardSpecialFilesystems: s.wipe_special_filesystems,
  };
}
