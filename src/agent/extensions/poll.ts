/**
 * IPA's `poll` extension: `poll.get_hardware_info` (the inventory, freshly collected,
 * reference §11) and `poll.set_node_info` (standalone only, as in IPA).
 */
import { z } from 'zod';
import { HardwareManagerMethodNotFound } from '../../hardware/errors.js';
import type { BmcInfo } from '../../hardware/inventory/bmc.js';
import { collectInventory, type Inventory } from '../../hardware/inventory/index.js';
import type { IronicNode } from '../../hardware/step-context.js';
import { defineCommand, defineExtension } from '../command.js';
import { InvalidCommandError } from '../errors.js';
import { lldpData } from '../inspection/lldp-data.js';
import type { AgentServices } from '../services.js';

/** BMC facts found once per agent, as IPA caches them (ipmitool is slow). */
const bmcCaches = new WeakMap<AgentServices, { value?: Promise<BmcInfo> }>();

/**
 * The inventory, then IPA's extension point: the highest-support manager that has a
 * `list_hardware_info` method gets it and returns it, usually with keys of its own added
 * (disk enclosures, accelerators, ...). Without such a manager, the inventory as collected.
 * `lldp: false` leaves LLDP out (`interfaces[].lldp` null) even with `ipa-collect-lldp`:
 * listening waits up to `lldp_timeout` (30 s) per NIC for a frame that may never come.
 */
export async function hardwareInventory(services: AgentServices, options: { lldp?: boolean } = {}): Promise<Inventory> {
  const inventory = await baseInventory(services, options.lldp ?? true);
  try {
    const extended = await services.hardware.dispatchToManagers('list_hardware_info', services.hardware.context, inventory);
    if (typeof extended !== 'object' || extended === null || Array.isArray(extended)) {
      throw new TypeError(
        `list_hardware_info returned ${Array.isArray(extended) ? 'an array' : typeof extended}, not an inventory object`,
      );
    }
    return extended as Inventory;
  } catch (error) {
    if (HardwareManagerMethodNotFound.is(error)) return inventory;
    throw error;
  }
}

async function baseInventory(services: AgentServices, lldp: boolean): Promise<Inventory> {
  let bmcCache = bmcCaches.get(services);
  if (!bmcCache) bmcCaches.set(services, (bmcCache = {}));
  return collectInventory({
    exec: services.exec,
    log: services.log,
    bootif: services.config.bootif,
    skipBmcDetect: services.conductor?.lookupConfig?.agent_skip_bmc_detect ?? false,
    enableVlanInterfaces: services.config.enableVlanInterfaces,
    ...(services.config.collectLldp && lldp ? { lldpFor: (names: string[]) => lldpData(services, names) } : {}),
    bmcCache,
  });
}

export const pollExtension = defineExtension('poll', [
  defineCommand({
    name: 'get_hardware_info',
    mode: 'sync',
    params: z.object({}).loose(),
    run: (_params, ctx) => hardwareInventory(ctx.services),
  }),
  defineCommand({
    name: 'set_node_info',
    mode: 'sync',
    params: z.object({ node_info: z.looseObject({ node: z.looseObject({ uuid: z.string() }).optional() }).optional() }).loose(),
    run({ node_info }, ctx) {
      if (!ctx.services.config.standalone) {
        throw new InvalidCommandError(
          'Node lookup data can only be set when the Ironic Python Agent is running in standalone mode.',
        );
      }
      if (node_info?.node) ctx.services.node.update(node_info.node as IronicNode);
      return null;
    },
  }),
]);
