/**
 * IPA's `inspector.wait_for_dhcp`: before the inventory is taken, wait up to
 * `inspection_dhcp_wait_timeout` seconds for the PXE NIC (or every NIC with
 * `inspection_dhcp_all_interfaces`) to have an IPv4 address, so the inventory the
 * inspector gets carries the addresses. Never fatal: a timeout is logged and inspection goes on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { listNetworkInterfaces } from '../../hardware/inventory/interfaces.js';
import type { AgentServices } from '../services.js';

const RETRY_INTERVAL_MS = 2_000;

/** `01-aa-bb-cc-dd-ee-ff` (pxelinux's BOOTIF) → `aa:bb:cc:dd:ee:ff`. */
function normalizeMac(mac: string): string {
  const plain = mac.includes('-') ? mac.split('-').slice(1).join(':') : mac;
  return plain.toLowerCase();
}

export async function waitForDhcp(
  services: AgentServices,
  signal?: AbortSignal,
  intervalMs = RETRY_INTERVAL_MS,
): Promise<boolean> {
  const { config, log, exec } = services;
  if (!config.inspectionDhcpWaitTimeout) return true;
  const pxeMac = config.bootif ? normalizeMac(config.bootif) : undefined;
  if (!pxeMac && !config.inspectionDhcpAllInterfaces) {
    log.warn('No PXE boot interface known - not waiting for it to get the IP address');
    return false;
  }
  const threshold = Date.now() + config.inspectionDhcpWaitTimeout * 1000;
  let missing: string[] = [];
  while (Date.now() <= threshold) {
    const interfaces = (await listNetworkInterfaces({ exec, log, enableVlanInterfaces: config.enableVlanInterfaces })).filter(
      (iface) => config.inspectionDhcpAllInterfaces || iface.mac_address.toLowerCase() === pxeMac,
    );
    missing = interfaces.filter((iface) => !iface.ipv4_address).map((iface) => iface.name);
    if (missing.length === 0) return true;
    log.debug({ missing }, 'Still waiting for interfaces to get IP addresses');
    await sleep(intervalMs, undefined, signal ? { signal } : {});
  }
  log.warn({ timeout: config.inspectionDhcpWaitTimeout, missing }, 'Not all network interfaces received IP addresses in time');
  return false;
}
