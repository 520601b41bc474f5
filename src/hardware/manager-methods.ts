/**
 * The names of the well-known manager methods (`ManagerMethods` in step-context.ts) at run
 * time, so that a plain-JavaScript plugin's misspelt method is refused at load time as
 * TypeScript refuses it at build time.
 */
import type { ManagerMethodName } from './step-context.js';

const NAMES: Record<ManagerMethodName, true> = {
  erase_block_device: true,
  list_hardware_info: true,
  get_os_install_device: true,
  collect_lldp_data: true,
  get_usb_devices: true,
  collect_system_logs: true,
  full_sync: true,
  prepare_image: true,
  get_partition_uuids: true,
  install_bootloader: true,
  software_raid_root_device: true,
  prepare_software_raid_esp: true,
  prepare_software_raid_bios_boot: true,
};

/** The names `methods` may carry; a plain-JavaScript plugin's other names are refused at load time. */
export const MANAGER_METHOD_NAMES: readonly ManagerMethodName[] = Object.freeze(Object.keys(NAMES) as ManagerMethodName[]);

export function isManagerMethodName(name: string): name is ManagerMethodName {
  return Object.hasOwn(NAMES, name);
}
