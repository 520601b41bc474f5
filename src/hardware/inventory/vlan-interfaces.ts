/**
 * IPA's `enable_vlan_interfaces` (netutils.bring_up_vlan_interfaces): VLAN interfaces the
 * agent creates itself, so the inventory (and the inspector) see the networks the node is
 * really on. Each entry is `iface.vlan` (iface by name or MAC), or just `iface` / `all`, in
 * which case the VLANs come from the 802.1 VLAN name TLVs the switch sent (needs
 * `ipa-collect-lldp`, as in IPA).
 */
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';
import type { InventoryInterface } from './types.js';

// 802.1Q Annex D: organisationally specific TLV, IEEE 802.1 OUI, subtype 3 (VLAN name).
const LLDP_TLV_ORG_SPECIFIC = 127;
const VLAN_NAME_PREFIX = '0080c2' + '03';

type VlanParent = Pick<InventoryInterface, 'name' | 'mac_address' | 'lldp'>;

export interface VlanOptions {
  exec: Exec;
  log: Logger;
  /** The `enable_vlan_interfaces` value. */
  setting: string;
  interfaces: readonly VlanParent[];
  /** Whether the interfaces' `lldp` was collected (`ipa-collect-lldp`). */
  collectLldp: boolean;
}

/** The VLAN IDs announced in an interface's LLDP TLVs (`[type, hex]`). */
export function vlansFromLldp(lldp: VlanParent['lldp']): string[] {
  return (lldp ?? [])
    .filter(([type, value]) => type === LLDP_TLV_ORG_SPECIFIC && value.startsWith(VLAN_NAME_PREFIX))
    .map(([, value]) => String(Number.parseInt(value.slice(VLAN_NAME_PREFIX.length, VLAN_NAME_PREFIX.length + 4), 16)));
}

async function addVlan(options: VlanOptions, parent: string, vlan: string, known: Set<string>): Promise<string | undefined> {
  const name = `${parent}.${vlan}`;
  if (known.has(name)) {
    options.log.info({ interface: name }, 'VLAN interface has already been added');
    return undefined;
  }
  try {
    options.log.info({ interface: name }, 'Adding VLAN interface');
    // Exit code 2: it exists already (created by the ramdisk's init or an earlier inventory).
    await options.exec('ip', ['link', 'add', 'link', parent, 'name', name, 'type', 'vlan', 'id', vlan], { okExitCodes: [0, 2] });
    await options.exec('ip', ['link', 'set', 'dev', name, 'up']);
  } catch (error) {
    options.log.warn({ err: error, interface: name }, 'Exception when running ip commands to add VLAN interface');
    return undefined;
  }
  known.add(name);
  return name;
}

/** Creates the configured VLAN interfaces; returns the names of those added. */
export async function bringUpVlanInterfaces(options: VlanOptions): Promise<string[]> {
  const added: string[] = [];
  const known = new Set(options.interfaces.map((i) => i.name));
  const entries = options.setting
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (entry.includes('.')) {
      const dot = entry.indexOf('.');
      const [iface, vlan] = [entry.slice(0, dot), entry.slice(dot + 1)];
      const parent = options.interfaces.find((i) => i.name === iface || i.mac_address.toLowerCase() === iface.toLowerCase());
      if (!parent) {
        options.log.warn({ interface: iface }, 'Provided VLAN interface does not exist');
        continue;
      }
      const name = await addVlan(options, parent.name, vlan, known);
      if (name) added.push(name);
    } else if (options.collectLldp) {
      const parents = entry === 'all' ? options.interfaces : options.interfaces.filter((i) => i.name === entry);
      if (entry !== 'all' && !parents.some((p) => p.lldp && p.lldp.length > 0)) {
        options.log.warn({ interface: entry }, 'Provided interface name was not found');
        continue;
      }
      for (const parent of parents) {
        for (const vlan of vlansFromLldp(parent.lldp)) {
          const name = await addVlan(options, parent.name, vlan, known);
          if (name) added.push(name);
        }
      }
    } else {
      options.log.warn('Attempting to add VLAN interfaces but specific interface not provided and LLDP not enabled');
    }
  }
  return added;
}
