/**
 * `system_vendor` and its firmware from SMBIOS as the kernel exports it under
 * /sys/class/dmi/id (no process to start; the serial needs root, which the ramdisk has).
 * IPA reads the same SMBIOS strings through lshw and reports "" for what is missing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InventorySystemVendor } from './types.js';

async function dmi(dir: string, key: string): Promise<string> {
  try {
    return (await readFile(join(dir, key), 'utf8')).trim();
  } catch {
    return '';
  }
}

/**
 * The system's product as lshw names it, hence as IPA reports it: the SMBIOS product name
 * followed by the SKU in brackets when there is one (lshw's dmi.cc, type 1), e.g. Dell's
 * "PowerEdge R640 (SKU=NotProvided;ModelName=PowerEdge R640)". Inspection rules and
 * auto-discovery written against IPA's inventory compare this string as it stands.
 */
function lshwProductName(product: string, sku: string): string {
  return sku === '' ? product : `${product} (${sku})`.trim();
}

export async function getSystemVendor(sysRoot = '/sys'): Promise<InventorySystemVendor> {
  const dir = join(sysRoot, 'class', 'dmi', 'id');
  const [product, sku, serial, manufacturer, biosVendor, biosVersion, biosDate] = await Promise.all(
    ['product_name', 'product_sku', 'product_serial', 'sys_vendor', 'bios_vendor', 'bios_version', 'bios_date'].map((k) =>
      dmi(dir, k),
    ),
  );
  return {
    product_name: lshwProductName(product!, sku!),
    serial_number: serial!,
    manufacturer: manufacturer!,
    firmware: { vendor: biosVendor!, version: biosVersion!, build_date: biosDate! },
  };
}
