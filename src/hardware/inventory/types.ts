/**
 * IPA's inventory (reference §11), key for key and type for type: this is what
 * `poll.get_hardware_info` returns and what inspection would send. Ironic and its
 * inspection rules read these keys by name, so nothing is renamed or dropped.
 */
import type { DiskHealth } from '../smart.js';

export interface InventoryInterface {
  name: string;
  mac_address: string;
  ipv4_address: string | null;
  ipv6_address: string | null;
  has_carrier: boolean;
  lldp: Array<[number, string]> | null;
  vendor: string | null;
  product: string | null;
  client_id: string | null;
  biosdevname: string | null;
  speed_mbps: number | null;
  pci_address: string | null;
  driver: string | null;
}

export interface InventoryCpu {
  model_name: string | null;
  /** A string, as lscpu prints it ("3400.0000"), exactly as IPA reports it. */
  frequency: string | null;
  count: number;
  architecture: string | null;
  flags: string[];
  socket_count: number | null;
}

export interface InventoryDisk {
  name: string;
  /** lsblk's MODEL as IPA passes it on: null (JSON null) when the device has none (virtio, NVMe namespaces without one, md). */
  model: string | null;
  size: number;
  rotational: boolean;
  wwn: string | null;
  serial: string | null;
  vendor: string | null;
  wwn_with_extension: string | null;
  wwn_vendor_extension: string | null;
  hctl: string | null;
  by_path: string | null;
  logical_sectors: number;
  physical_sectors: number;
  tran: string | null;
  /** Not IPA's: SMART health from smartctl, when smartctl is installed. */
  smart?: DiskHealth;
}

export interface InventoryMemory {
  total: number | null;
  physical_mb: number | null;
}

export interface InventorySystemVendor {
  product_name: string;
  serial_number: string;
  manufacturer: string;
  firmware: { vendor: string; version: string; build_date: string };
}

export interface InventoryBoot {
  current_boot_mode: 'uefi' | 'bios';
  pxe_interface: string | null;
}

export interface Inventory {
  interfaces: InventoryInterface[];
  cpu: InventoryCpu;
  disks: InventoryDisk[];
  memory: InventoryMemory;
  bmc_address: string | null;
  bmc_v6address: string | null;
  /** Present only when a BMC MAC was detected, as in IPA. */
  bmc_mac?: string;
  system_vendor: InventorySystemVendor;
  boot: InventoryBoot;
  hostname: string;
}
