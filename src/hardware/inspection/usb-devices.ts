/**
 * IPA's `usb-devices` collector (GenericHardwareManager.get_usb_devices): the nodes of
 * `lshw -quiet -json` whose id is `usb` and class `generic`, at any depth, as
 * `{product, vendor, handle}` with `''` for a missing field.
 */
import type { Exec } from '../exec.js';

export interface UsbDevice {
  product: string;
  vendor: string;
  handle: string;
}

interface LshwNode {
  id?: string;
  class?: string;
  product?: string;
  vendor?: string;
  handle?: string;
  children?: LshwNode[];
}

function* usbNodes(node: LshwNode): Generator<LshwNode> {
  for (const child of node.children ?? []) {
    if (child.id === 'usb' && child.class === 'generic') yield child;
    yield* usbNodes(child);
  }
}

/** lshw prints an object, or (since 2021) a one-element list. */
export function usbDevicesFromLshw(json: string): UsbDevice[] {
  const parsed = JSON.parse(json) as LshwNode | LshwNode[];
  const root = Array.isArray(parsed) ? (parsed[0] ?? {}) : parsed;
  return [...usbNodes(root)].map((d) => ({ product: d.product ?? '', vendor: d.vendor ?? '', handle: d.handle ?? '' }));
}

export async function collectUsbDevices(exec: Exec): Promise<UsbDevice[]> {
  const { stdout } = await exec('lshw', ['-quiet', '-json'], { timeoutMs: 120_000, quiet: true });
  return usbDevicesFromLshw(stdout);
}
