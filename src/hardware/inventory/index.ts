/**
 * The hardware inventory (IPA's `list_hardware_info`, reference §11). Every part is
 * collected concurrently: one `ip`, one `lscpu`, one `lsblk` (through the block-device
 * discovery), optional `lshw` (NIC speeds)/`dmidecode`/`ipmitool`/`biosdevname`, and
 * /proc, /sys reads.
 * Optional tools that are absent leave their fields null; they are not errors.
 */
import { access } from 'node:fs/promises';
import { hostname } from 'node:os';
import { listBlockDevices } from '../block-devices.js';
import { hasCommand } from '../exec.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Exec } from '../step-context.js';
import { detectBmc, hasIpmiDevice, type BmcInfo } from './bmc.js';
import { getCpu } from './cpu.js';
import { inventoryDisks, withSmartHealth } from './disks.js';
import { listNetworkInterfaces } from './interfaces.js';
import { getMemory } from './memory.js';
import { getSystemVendor } from './system-vendor.js';
import { bringUpVlanInterfaces } from './vlan-interfaces.js';
import type { Inventory, InventoryDisk } from './types.js';

export type { Inventory } from './types.js';

export interface InventoryOptions {
  exec: Exec;
  log?: Logger;
  /** The `disks` part; default: the shared block-device discovery. */
  listDisks?: () => Promise<InventoryDisk[]>;
  /** `BOOTIF` from the kernel command line, reported as `boot.pxe_interface`. */
  bootif?: string | undefined;
  /** The conductor's `agent_skip_bmc_detect` (redfish-managed nodes). */
  skipBmcDetect?: boolean;
  enableVlanInterfaces?: string;
  /**
   * IPA's deprecated `collect_lldp`: the raw LLDP TLVs of these interfaces, put in each
   * interface's `lldp` (and used for VLANs named by LLDP).
   */
  lldpFor?: (names: string[]) => Promise<Record<string, Array<[number, string]>>>;
  /** BMC facts found earlier in this process (IPA caches them). */
  bmcCache?: { value?: Promise<BmcInfo> };
}

async function uefiBooted(): Promise<boolean> {
  return access('/sys/firmware/efi').then(
    () => true,
    () => false,
  );
}

async function bmcInfo(options: InventoryOptions, log: Logger): Promise<BmcInfo> {
  if (options.skipBmcDetect) return { v4: null, v6: null, mac: null };
  const detect = async (): Promise<BmcInfo> => {
    if (!(await hasIpmiDevice())) return { v4: null, v6: null, mac: null };
    // Without ipmitool IPA's shell pipeline reads nothing: 0.0.0.0 and ::/0, no MAC.
    if (!(await hasCommand('ipmitool'))) return { v4: '0.0.0.0', v6: '::/0', mac: null };
    return detectBmc(options.exec, log);
  };
  if (!options.bmcCache) return detect();
  options.bmcCache.value ??= detect();
  return options.bmcCache.value;
}

export async function collectInventory(options: InventoryOptions): Promise<Inventory> {
  const log = options.log ?? silentLogger;
  const started = performance.now();
  const [hasDmidecode, hasBiosdevname, hasSmartctl, hasLshw] = await Promise.all([
    process.getuid?.() === 0 ? hasCommand('dmidecode') : Promise.resolve(false),
    hasCommand('biosdevname'),
    hasCommand('smartctl'),
    hasCommand('lshw'),
  ]);
  const listDisks = options.listDisks ?? (() => listBlockDevices(options.exec).then(inventoryDisks));
  const [interfaces, cpu, disks, memory, bmc, systemVendor, uefi] = await Promise.all([
    listNetworkInterfaces({
      exec: options.exec,
      log,
      hasBiosdevname,
      hasLshw,
      ...(options.enableVlanInterfaces !== undefined ? { enableVlanInterfaces: options.enableVlanInterfaces } : {}),
    }),
    getCpu(options.exec),
    listDisks().then((disks) => (hasSmartctl ? withSmartHealth(options.exec, disks) : disks)),
    getMemory(options.exec, { hasDmidecode, log }),
    bmcInfo(options, log),
    getSystemVendor(),
    uefiBooted(),
  ]);
  if (options.lldpFor) {
    const lldp = await options.lldpFor(interfaces.map((i) => i.name));
    for (const iface of interfaces) iface.lldp = lldp[iface.name] ?? null;
  }
  if (options.enableVlanInterfaces) {
    const added = await bringUpVlanInterfaces({
      exec: options.exec,
      log,
      setting: options.enableVlanInterfaces,
      interfaces,
      collectLldp: options.lldpFor !== undefined,
    });
    if (added.length > 0) {
      // No lshw here: only the new VLANs are kept, and lshw lists no VLAN (a virtual
      // interface), so their speed_mbps is null as in IPA.
      const again = await listNetworkInterfaces({
        exec: options.exec,
        log,
        hasBiosdevname,
        enableVlanInterfaces: options.enableVlanInterfaces,
        extraVlanNames: added,
      });
      const listed = new Set(interfaces.map((i) => i.name));
      interfaces.push(...again.filter((i) => added.includes(i.name) && !listed.has(i.name)));
    }
  }
  const inventory: Inventory = {
    interfaces,
    cpu,
    disks,
    memory,
    bmc_address: bmc.v4,
    bmc_v6address: bmc.v6,
    ...(bmc.mac ? { bmc_mac: bmc.mac } : {}),
    system_vendor: systemVendor,
    boot: { current_boot_mode: uefi ? 'uefi' : 'bios', pxe_interface: options.bootif ?? null },
    hostname: hostname(),
  };
  log.info({ durationMs: Math.round(performance.now() - started) }, 'inventory collected');
  return inventory;
}
