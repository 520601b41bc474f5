/**
 * Network interfaces for the inventory and the lookup (reference §11): physical NICs
 * (a `device` link under /sys/class/net), bonds, and VLANs when enabled. One `ip -j -d
 * addr` call gives names, addresses, permanent MACs and link kinds; one lshw run, alongside
 * it, the speeds (nic-speed.ts); the rest is /sys.
 */
import { readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';
import { collectNicSpeeds } from './nic-speed.js';
import type { InventoryInterface } from './types.js';

const ipAddrSchema = z.array(
  z.looseObject({
    ifname: z.string(),
    address: z.string().optional(),
    permaddr: z.string().optional(),
    link_type: z.string().optional(),
    linkinfo: z.looseObject({ info_kind: z.string().optional() }).optional(),
    addr_info: z.array(z.looseObject({ family: z.string().optional(), local: z.string().optional() })).default([]),
  }),
);

export type IpAddrEntry = z.output<typeof ipAddrSchema>[number];

export interface InterfaceOptions {
  exec: Exec;
  log?: Logger;
  sysRoot?: string;
  /** IPA's `enable_vlan_interfaces`: `all`, or a comma list of `iface` / `iface.vlan`. */
  enableVlanInterfaces?: string;
  /** VLAN interfaces to list whatever the setting says (the ones the agent created by MAC). */
  extraVlanNames?: readonly string[];
  /** `biosdevname -i` is run only when the tool is installed. */
  hasBiosdevname?: boolean;
  /** `speed_mbps` comes from lshw (nic-speed.ts); without it every speed is null. */
  hasLshw?: boolean;
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** Mellanox's PCI vendor ID as /sys/class/net/<nic>/device/vendor has it. */
const MLNX_VENDOR_ID = '0x15b3';
/** An IPoIB hardware address: 20 bytes (QPN, GID prefix, port GUID), `aa:bb:...` 59 characters. */
const INFINIBAND_ADDRESS_LENGTH = 59;
const MLNX_INFINIBAND_CLIENT_ID_PREFIX = 'ff:00:00:00:00:00:02:00:00:02:c9:00:';

/**
 * IPA's MellanoxDeviceHardwareManager (hardware_managers/mlnx.py, shipped and active in every
 * IPA ramdisk that sees a Mellanox NIC): an InfiniBand interface of a Mellanox adapter is
 * reported with a 6-byte MAC made of the port GUID's upper three and lower three bytes, and
 * the DHCP client-id built from the GUID. Ironic keeps 6-byte MACs only: without this the
 * interface is dropped by inspection (validate_interfaces) and never matches a port at lookup.
 * IPA's manager leaves the interface's other fields empty; here they are kept as found.
 */
function mellanoxInfiniband(address: string, vendor: string | null): { mac: string; clientId: string } | undefined {
  if (address.length !== INFINIBAND_ADDRESS_LENGTH || vendor !== MLNX_VENDOR_ID) return undefined;
  return { mac: address.slice(36, -14) + address.slice(51), clientId: MLNX_INFINIBAND_CLIENT_ID_PREFIX + address.slice(36) };
}

export function parseIpAddr(stdout: string): IpAddrEntry[] {
  return ipAddrSchema.parse(JSON.parse(stdout));
}

async function readSys(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The PCI function nearest to the NIC's device (virtio NICs hang below one). */
async function pciAddress(deviceLink: string): Promise<string | null> {
  const real = await realpath(deviceLink).catch(() => null);
  if (!real) return null;
  const parts = real.split('/').reverse();
  return parts.find((part) => PCI_ADDRESS.test(part)) ?? null;
}

function vlanEnabled(name: string, setting: string): boolean {
  if (setting.trim() === '') return false;
  if (setting.trim() === 'all') return true;
  const parent = name.split('.')[0];
  return setting.split(',').some((entry) => entry.trim() === name || entry.trim() === parent);
}

/** Which kind of interface this is, or null when IPA would not list it. */
async function interfaceKind(
  entry: IpAddrEntry,
  sysNet: string,
  vlanSetting: string,
): Promise<'physical' | 'bond' | 'vlan' | null> {
  if (entry.link_type === 'loopback') return null;
  if (await exists(join(sysNet, entry.ifname, 'device'))) return 'physical';
  if (await exists(join(sysNet, entry.ifname, 'bonding'))) return 'bond';
  if (entry.linkinfo?.info_kind === 'vlan' && vlanEnabled(entry.ifname, vlanSetting)) return 'vlan';
  return null;
}

function firstAddress(entry: IpAddrEntry, family: 'inet' | 'inet6'): string | null {
  return entry.addr_info.find((a) => a.family === family && a.local)?.local ?? null;
}

async function biosdevname(exec: Exec, name: string, log?: Logger): Promise<string | null> {
  try {
    const { stdout } = await exec('biosdevname', ['-i', name], { timeoutMs: 5_000, quiet: true });
    return stdout.trim() || null;
  } catch (error) {
    log?.debug({ err: error, interface: name }, 'biosdevname gave no name');
    return null;
  }
}

async function describe(
  entry: IpAddrEntry,
  options: InterfaceOptions,
  sysNet: string,
  speeds: ReadonlyMap<string, number | null>,
): Promise<InventoryInterface> {
  const dir = join(sysNet, entry.ifname);
  const device = join(dir, 'device');
  const driverLink = await readlink(join(device, 'driver')).catch(() => null);
  // The burnt-in address survives bonding and MAC changes; the conductor's ports know it.
  const address = (entry.permaddr ?? entry.address ?? '').toLowerCase();
  const vendor = await readSys(join(device, 'vendor'));
  const infiniband = mellanoxInfiniband(address, vendor);
  return {
    name: entry.ifname,
    mac_address: infiniband?.mac ?? address,
    ipv4_address: firstAddress(entry, 'inet'),
    ipv6_address: firstAddress(entry, 'inet6'),
    has_carrier: (await readSys(join(dir, 'carrier'))) === '1',
    lldp: null,
    vendor,
    product: await readSys(join(device, 'device')),
    client_id: infiniband?.clientId ?? null,
    biosdevname: options.hasBiosdevname ? await biosdevname(options.exec, entry.ifname, options.log) : null,
    speed_mbps: speeds.get(entry.ifname) ?? null,
    pci_address: await pciAddress(device),
    driver: driverLink ? basename(driverLink) : null,
  };
}

export async function listNetworkInterfaces(options: InterfaceOptions): Promise<InventoryInterface[]> {
  const sysNet = join(options.sysRoot ?? '/sys', 'class', 'net');
  const [{ stdout }, speeds] = await Promise.all([
    options.exec('ip', ['-j', '-d', 'addr', 'show'], { timeoutMs: 10_000, quiet: true }),
    options.hasLshw ? collectNicSpeeds(options.exec, options.log) : new Map<string, number | null>(),
  ]);
  const entries = parseIpAddr(stdout);
  const kinds = await Promise.all(
    entries.map((e) =>
      options.extraVlanNames?.includes(e.ifname) && e.linkinfo?.info_kind === 'vlan'
        ? ('vlan' as const)
        : interfaceKind(e, sysNet, options.enableVlanInterfaces ?? ''),
    ),
  );
  const listed = entries.filter((_, i) => kinds[i] !== null);
  const described = await Promise.all(listed.map((entry) => describe(entry, options, sysNet, speeds)));
  return described.filter((iface) => {
    // Locally administered fa:… MACs can be spoofed by an in-band BMC: IPA ignores them.
    if (iface.mac_address.startsWith('fa:')) {
      options.log?.debug({ interface: iface.name }, 'ignoring interface with a locally administered fa: MAC');
      return false;
    }
    return iface.mac_address !== '';
  });
}
