/**
 * The node's target boot mode and the partition table that follows from it, as IPA's
 * `utils.get_node_boot_mode` and `get_partition_table_type_from_specs` decide them.
 */
import { access } from 'node:fs/promises';
import type { IronicNode } from './step-context.js';

export type BootMode = 'uefi' | 'bios';
export type TableType = 'gpt' | 'msdos';

/** IPA's `parse_capabilities`: a dict, a JSON string, or `key1:value1,key2:value2`. */
function parseCapabilities(root: Record<string, unknown> | undefined): Record<string, unknown> {
  const raw = root?.capabilities;
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      const caps: Record<string, unknown> = {};
      for (const pair of raw.split(',')) {
        const colon = pair.indexOf(':');
        if (colon > 0) caps[pair.slice(0, colon).trim()] = pair.slice(colon + 1).trim();
      }
      return caps;
    }
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}

export async function ramdiskBootMode(sysRoot = '/sys'): Promise<BootMode> {
  return access(`${sysRoot}/firmware/efi`).then(
    () => 'uefi' as const,
    () => 'bios' as const,
  );
}

/**
 * Secure boot implies UEFI; else `instance_info.deploy_boot_mode`, the `boot_mode`
 * capability, `driver_internal_info.deploy_boot_mode`, then how the ramdisk booted.
 */
export function nodeBootMode(node: IronicNode, ramdisk: BootMode): BootMode {
  const instanceCaps = parseCapabilities(node.instance_info);
  const nodeCaps = parseCapabilities(node.properties);
  const secureBoot = instanceCaps.secure_boot ?? nodeCaps.secure_boot ?? 'false';
  if (String(secureBoot).toLowerCase() === 'true') return 'uefi';
  const mode =
    node.instance_info?.deploy_boot_mode ?? nodeCaps.boot_mode ?? node.driver_internal_info?.deploy_boot_mode ?? ramdisk;
  const lower = String(mode).toLowerCase();
  return lower === 'uefi' || lower === 'bios' ? lower : ramdisk;
}

/** GPT in UEFI mode; otherwise the `disk_label` capability (instance_info first), default msdos. */
export function partitionTableType(node: IronicNode, bootMode: BootMode): TableType {
  if (bootMode === 'uefi') return 'gpt';
  const label = parseCapabilities(node.instance_info).disk_label ?? parseCapabilities(node.properties).disk_label ?? 'msdos';
  return label === 'gpt' ? 'gpt' : 'msdos';
}
