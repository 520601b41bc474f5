/**
 * IPA's `pci-devices` collector (inspector.collect_pci_devices_info): every device under
 * /sys/bus/pci/devices with its ids as hex without `0x`, as ironic-inspector's
 * `pci_devices` processing hook and inspection rules read them.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../logger.js';

export interface PciDevice {
  vendor_id: string;
  product_id: string;
  class: string;
  revision: string | null;
  bus: string;
  /** A string, as read from /sys ("-1" without NUMA), as IPA reports it. */
  numa_node_id: string | null;
}

/** `0x8086` → `8086`; IPA's `.split('x')[1]`, undefined when there is no `x`. */
function afterX(text: string): string | undefined {
  return text.trim().split('x')[1];
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function describe(dir: string, bus: string, log: Logger): Promise<PciDevice | undefined> {
  let vendor: string | undefined, device: string | undefined, pciClass: string | undefined;
  try {
    [vendor, device, pciClass] = await Promise.all(
      ['vendor', 'device', 'class'].map(async (f) => afterX(await readFile(join(dir, f), 'utf8'))),
    );
  } catch (error) {
    log.warn({ device: bus, err: error }, 'failed to gather vendor id, product id or pci class from PCI device');
    return undefined;
  }
  if (vendor === undefined || device === undefined || pciClass === undefined) {
    log.warn({ device: bus }, 'wrong format of vendor id, product id or pci class in PCI device');
    return undefined;
  }
  let revision: string | null = null;
  if (await isFile(join(dir, 'revision'))) {
    revision = (await readFile(join(dir, 'revision'), 'utf8').then(afterX, () => undefined)) ?? null;
  }
  let numa: string | null = null;
  if (await isFile(join(dir, 'numa_node')))
    numa = await readFile(join(dir, 'numa_node'), 'utf8').then(
      (t) => t.trim(),
      () => null,
    );
  return { vendor_id: vendor, product_id: device, class: pciClass, revision, bus, numa_node_id: numa };
}

/** Throws only when the device folder cannot be listed (IPA adds that as a failure). */
export async function collectPciDevices(sysRoot = '/sys', log: Logger = silentLogger): Promise<PciDevice[]> {
  const root = join(sysRoot, 'bus', 'pci', 'devices');
  const entries = await readdir(root);
  const devices = await Promise.all(
    entries.sort().map(async (bus) => {
      const dir = join(root, bus);
      // /sys/bus/pci/devices holds symlinks to directories; stat follows them.
      const isDir = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      return isDir ? describe(dir, bus, log) : undefined;
    }),
  );
  return devices.filter((d): d is PciDevice => d !== undefined);
}
