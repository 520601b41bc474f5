/**
 * NVMe format as IPA does it (reference §8.2): `nvme id-ctrl` tells whether the controller
 * supports Format NVM (OACS bit 1) and cryptographic erase (FNA bit 2); the format then
 * uses secure-erase setting 2 (crypto) or 1 (user data).
 */
import { z } from 'zod';
import { BlockDeviceEraseError, hasCommand, type StepContext } from '../../src/hardware/index.js';
import { isInterruption } from './interruption.js';

const idCtrl = z.looseObject({
  mn: z.string().optional(),
  sn: z.string().optional(),
  oacs: z.number().int(),
  fna: z.number().int(),
});

export interface NvmeController {
  model: string | undefined;
  serial: string | undefined;
  formatSupported: boolean;
  cryptoEraseSupported: boolean;
}

/** `nvme id-ctrl DEV -o json` → what format can do. Throws on output that is not id-ctrl JSON. */
export function parseNvmeIdCtrl(stdout: string): NvmeController {
  const parsed = idCtrl.parse(JSON.parse(stdout));
  return {
    model: parsed.mn?.trim() || undefined,
    serial: parsed.sn?.trim() || undefined,
    formatSupported: (parsed.oacs & 0x2) !== 0,
    cryptoEraseSupported: (parsed.fna & 0x4) !== 0,
  };
}

function isNvmeDevice(path: string): boolean {
  return /^\/dev\/nvme\d/.test(path);
}

export type NvmeProbe = { usable: true; ses: 1 | 2; controller: NvmeController } | { usable: false; reason: string };

/** Read-only: can this namespace be erased with `nvme format`, and with which setting? */
export async function probeNvmeFormat(ctx: StepContext, device: string): Promise<NvmeProbe> {
  if (!isNvmeDevice(device)) return { usable: false, reason: 'not an NVMe namespace' };
  if (!(await hasCommand('nvme'))) return { usable: false, reason: 'nvme-cli is not installed' };
  let controller: NvmeController;
  try {
    const { stdout } = await ctx.exec('nvme', ['id-ctrl', device, '-o', 'json'], { quiet: true });
    controller = parseNvmeIdCtrl(stdout);
  } catch (error) {
    return { usable: false, reason: `nvme id-ctrl failed: ${(error as Error).message}` };
  }
  if (!controller.formatSupported)
    return { usable: false, reason: 'the controller does not support Format NVM (OACS bit 1 clear)' };
  return { usable: true, ses: controller.cryptoEraseSupported ? 2 : 1, controller };
}

/** `nvme format DEV -s SES -f`; a failure is a `BlockDeviceEraseError`, an abort or timeout the `ExecError` as it is. */
export async function nvmeFormat(ctx: StepContext, device: string, ses: 1 | 2): Promise<void> {
  try {
    await ctx.exec('nvme', ['format', device, '-s', String(ses), '-f'], { timeoutMs: 4 * 3600_000, signal: ctx.signal });
  } catch (error) {
    if (isInterruption(error)) throw error;
    throw new BlockDeviceEraseError(`Failed to format NVMe device ${device}: ${(error as Error).message}`);
  }
}
