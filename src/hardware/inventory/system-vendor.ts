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

export async function getSystemVendor(sysRoot = '/sys'): Promise<InventorySystemVendor> {
  const dir = join(sysRoot, 'class', 'dmi', 'id');
  const [product, serial, manufacturer, biosVendor, biosVersion, biosDate] = await Promise.all(
    ['product_name', 'product_serial', 'sys_vendor', 'bios_vendor', 'bios_version', 'bios_date'].map((k) => dmi(dir, k)),
  );
  return {
    product_name: product!,
    serial_number: serial!,
    manufacturer: manufacturer!,
    firmware: { vendor: biosVendor!, version: biosVersion!, build_date: biosDate! },
  };
}
