/**
 * `system_vendor.product_name` is what IPA reports: lshw's system product, which is the
 * SMBIOS product name followed by the SKU in brackets. The lshw output is IPA's captured
 * sample (test/fixtures/inspection/ipa-lshw-v1.json): its system node says
 * "ABC123 (GENERIC_SERVER)" where the SMBIOS product (its motherboard node, and the kernel's
 * product_name) is "ABC123".
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getSystemVendor } from '../../../src/hardware/inventory/system-vendor.js';

const LSHW = join(import.meta.dirname, '..', '..', 'fixtures', 'inspection', 'ipa-lshw-v1.json');

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

/** A /sys whose class/dmi/id holds these files (the kernel ends each with a newline). */
async function sysWithDmi(files: Record<string, string>): Promise<string> {
  root = await mkdtemp(join(tmpdir(), 'dmi-id-'));
  const dir = join(root, 'class', 'dmi', 'id');
  await mkdir(dir, { recursive: true });
  for (const [name, value] of Object.entries(files)) await writeFile(join(dir, name), `${value}\n`);
  return root;
}

describe('system_vendor from /sys/class/dmi/id', () => {
  it('names the product with its SKU in brackets, exactly as lshw (and so IPA) does', async () => {
    const lshw = JSON.parse(await readFile(LSHW, 'utf8')) as { product: string; vendor: string; serial: string };
    const sys = await sysWithDmi({
      product_name: 'ABC123',
      product_sku: 'GENERIC_SERVER',
      product_serial: '1234567',
      sys_vendor: 'GENERIC',
    });
    const vendor = await getSystemVendor(sys);
    expect(vendor.product_name).toBe(lshw.product);
    expect(vendor.serial_number).toBe(lshw.serial);
    expect(vendor.manufacturer).toBe(lshw.vendor);
    expect(vendor.firmware).toEqual({ vendor: '', version: '', build_date: '' });
  });

  it('leaves the product alone when SMBIOS has no SKU or the kernel does not export one', async () => {
    expect((await getSystemVendor(await sysWithDmi({ product_name: 'PowerEdge R640', product_sku: '' }))).product_name).toBe(
      'PowerEdge R640',
    );
    await rm(root!, { recursive: true, force: true });
    expect((await getSystemVendor(await sysWithDmi({ product_name: 'PowerEdge R640' }))).product_name).toBe('PowerEdge R640');
  });
});
