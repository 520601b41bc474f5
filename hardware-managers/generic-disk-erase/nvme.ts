/**
 * NVMe format as IPA does it (reference §8.2): `nvme id-ctrl` tells whether the controller
 * supports Format NVM (OACS bit 1) and cryptographic erase (FNA bit 2); the format then
 * uses secure-erase setting 2 (crypto) or 1 (user data).
 *
 * Where this differs from IPA: IPA reads only FNA bit 2. With FNA bit 0 or 1 set, the format
 * of one namespace erases every namespace of the NVM subsystem, so it is used only when all
 * of them are being erased (else the namespace is overwritten, or in express its metadata
 * erased), and then runs once per controller.
 */
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BlockDeviceEraseError, hasCommand, type BlockDevice, type StepContext } from '../../src/hardware/index.js';
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
  /** FNA bit 0 (a format applies to all namespaces) or bit 1 (a secure erase does): ours always is one. */
  formatErasesAllNamespaces: boolean;
}

/** `nvme id-ctrl DEV -o json` → what format can do. Throws on output that is not id-ctrl JSON. */
export function parseNvmeIdCtrl(stdout: string): NvmeController {
  const parsed = idCtrl.parse(JSON.parse(stdout));
  return {
    model: parsed.mn?.trim() || undefined,
    serial: parsed.sn?.trim() || undefined,
    formatSupported: (parsed.oacs & 0x2) !== 0,
    cryptoEraseSupported: (parsed.fna & 0x4) !== 0,
    formatErasesAllNamespaces: (parsed.fna & 0x3) !== 0,
  };
}

function isNvmeDevice(path: string): boolean {
  return /^\/dev\/nvme\d/.test(path);
}

/** Where a namespace's format could reach, and what there the step does not erase. */
export interface NamespaceSiblings {
  /** The controller (its sysfs device, else `nvmeN`): a format that erases all namespaces runs once per controller. */
  controller: string;
  /** The other namespaces of its NVM subsystem (same subsystem NQN, else same controller) that are not targets. */
  notErased: string[];
}

const NAMESPACE_NAME = /^nvme(\d+)n\d+$/;

async function sysfsText(sysRoot: string, name: string, relative: string): Promise<string> {
  return (await readFile(join(sysRoot, 'class', 'block', name, relative), 'utf8').catch(() => '')).trim();
}

/** For each NVMe namespace among `targets`: its controller and the namespaces of its subsystem left alone. */
export async function namespaceSiblings(
  listing: readonly BlockDevice[],
  targets: readonly BlockDevice[],
  sysRoot = '/sys',
): Promise<Map<string, NamespaceSiblings>> {
  const namespaces = listing.filter((device) => device.parent === null && NAMESPACE_NAME.test(device.name));
  const places = await Promise.all(
    namespaces.map(async ({ name }) => {
      const byName = `nvme${NAMESPACE_NAME.exec(name)?.[1]}`;
      const controller = await realpath(join(sysRoot, 'class', 'block', name, 'device')).catch(() => byName);
      const subsystem = (await sysfsText(sysRoot, name, 'device/subsysnqn')) || controller;
      return { controller, subsystem };
    }),
  );
  const erased = new Set(targets.map((device) => device.path));
  const siblings = new Map<string, NamespaceSiblings>();
  namespaces.forEach((device, i) => {
    if (!erased.has(device.path)) return;
    const notErased = namespaces
      .filter((other, j) => other !== device && places[j]!.subsystem === places[i]!.subsystem && !erased.has(other.path))
      .map((other) => other.path);
    siblings.set(device.path, { controller: places[i]!.controller, notErased });
  });
  return siblings;
}

export type NvmeProbe =
  | {
      usable: true;
      ses: 1 | 2;
      controller: NvmeController;
      /** Set when the format erases every namespace: the controller to format once. */
      formatsController: string | undefined;
    }
  | { usable: false; reason: string };

/**
 * Read-only: can this namespace be erased with `nvme format`, and with which setting?
 * `siblings` (from namespaceSiblings) says what else a format of all namespaces would erase.
 */
export async function probeNvmeFormat(ctx: StepContext, device: string, siblings?: NamespaceSiblings): Promise<NvmeProbe> {
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
  const ses = controller.cryptoEraseSupported ? 2 : 1;
  if (!controller.formatErasesAllNamespaces) return { usable: true, ses, controller, formatsController: undefined };
  const reach = 'its format erases every namespace of the NVM subsystem (FNA bit 0 or 1)';
  if (!siblings) return { usable: false, reason: `${reach}, and which namespaces share it is not known` };
  if (siblings.notErased.length > 0) {
    const reason = `${reach}, and ${siblings.notErased.join(', ')} is not being erased`;
    ctx.log.warn({ device, notErased: siblings.notErased }, `not formatting the namespace: ${reason}`);
    return { usable: false, reason };
  }
  return { usable: true, ses, controller, formatsController: siblings.controller };
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
