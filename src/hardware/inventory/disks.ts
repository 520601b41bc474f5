/**
 * The inventory's `disks` (reference §11), from the shared block-device discovery: whole
 * disks (plus md RAID and multipath devices), without floppies, RAM disks, zram or
 * zero-sized devices. IPA keeps uuid/partuuid internally but does not serialise them.
 */
import type { BlockDevice } from '../block-devices.js';
import { readDiskHealth } from '../smart.js';
import type { Exec } from '../step-context.js';
import type { InventoryDisk } from './types.js';

const LISTED_TYPES = /^(disk|raid\d*|mpath)$/;
const IGNORED_NAMES = /^(fd|ram|zram)\d*/;

function isInventoryDisk(device: BlockDevice): boolean {
  return LISTED_TYPES.test(device.type) && !IGNORED_NAMES.test(device.name) && device.sizeBytes > 0;
}

function toInventoryDisk(device: BlockDevice): InventoryDisk {
  return {
    name: device.path,
    model: device.model,
    size: device.sizeBytes,
    rotational: device.rotational,
    wwn: device.wwn,
    serial: device.serial,
    vendor: device.vendor,
    wwn_with_extension: device.wwnWithExtension,
    wwn_vendor_extension: device.wwnVendorExtension,
    hctl: device.hctl,
    by_path: device.byPath,
    logical_sectors: device.logicalSectorSize,
    physical_sectors: device.physicalSectorSize,
    tran: device.transport,
  };
}

export function inventoryDisks(devices: readonly BlockDevice[]): InventoryDisk[] {
  return devices.filter(isInventoryDisk).map(toInventoryDisk);
}

/**
 * Adds each disk's SMART health summary as `smart`, a key IPA does not have, so a
 * conductor's inspection rules can act on failing disks. Bounded: get_hardware_info is
 * answered synchronously and the conductor waits 60 s at most.
 */
export async function withSmartHealth(exec: Exec, disks: InventoryDisk[]): Promise<InventoryDisk[]> {
  return Promise.all(disks.map(async (disk) => ({ ...disk, smart: await readDiskHealth(exec, disk.name, undefined, 10_000) })));
}
