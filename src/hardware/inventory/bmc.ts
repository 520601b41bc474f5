/**
 * BMC addresses through `ipmitool` (reference §11), read as IPA's get_bmc_address,
 * get_bmc_v6address and get_bmc_mac read them: only when an IPMI character device exists
 * (IPA ≥ 9.14; null without one, as in virtual machines and containers, or when the conductor
 * said `agent_skip_bmc_detect`); channels 1–11. Once there is an IPMI device IPA always
 * answers: `0.0.0.0` and `::/0` when no channel has an address, also when every ipmitool call
 * fails (IPA pipes ipmitool into awk, so a failure reads as no address). Found once per
 * process, as IPA caches it.
 */
import { isIP } from 'node:net';
import { readdir } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';

export interface BmcInfo {
  v4: string | null;
  v6: string | null;
  mac: string | null;
}

const CHANNELS = Array.from({ length: 11 }, (_, i) => i + 1);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** IPA's null_address_re: `::` with or without a prefix length. */
const NULL_V6 = /^::(\/\d{1,3})*$/;

export async function hasIpmiDevice(devRoot = '/dev'): Promise<boolean> {
  const top = await readdir(devRoot).catch(() => [] as string[]);
  if (top.some((name) => name.startsWith('ipmi'))) return true;
  for (const sub of ['ipmi', 'ipmidev']) {
    if ((await readdir(`${devRoot}/${sub}`).catch(() => [] as string[])).length > 0) return true;
  }
  return false;
}

/** The fourth word of the `IP Address :` and `MAC Address :` lines, as IPA's awk prints them. */
function lanField(stdout: string, key: 'IP' | 'MAC'): string | null {
  return new RegExp(`^${key} Address[ \\t]*:[ \\t]*(\\S+)`, 'm').exec(stdout)?.[1] ?? null;
}

/** `ipmitool lan6 print <ch>` cut into its `Name N:` blocks, each as `key → value`. */
function lan6Blocks(stdout: string, kind: 'Static' | 'Dynamic'): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  let current: Map<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line)) {
      current = new RegExp(`^IPv6 ${kind} Address \\d+:\\s*$`).test(line) ? new Map() : undefined;
      if (current) blocks.push(current);
      continue;
    }
    const field = /^\s+([^:]+):\s*(.*?)\s*$/.exec(line);
    if (current && field) current.set(field[1]!.trim(), field[2]!);
  }
  return blocks;
}

/**
 * IPA's get_bmc_v6address for one channel: only when `IPv6/IPv4 Addressing Enables` is ipv6
 * or both; the first active DHCPv6/SLAAC dynamic address, else the first active enabled
 * static one, never `::`. A link-local address counts: IPA reports it (an HPE iLO 4 with
 * SLAAC and no router lists only its fe80:: address, and IPA sends that).
 */
function bmcV6FromLan6Print(stdout: string): string | null {
  const enables = /^IPv6\/IPv4 Addressing Enables[ \t]*:.*?(\S+)\s*$/m.exec(stdout)?.[1];
  if (enables !== 'ipv6' && enables !== 'both') return null;
  const pick = (kind: 'Static' | 'Dynamic') =>
    lan6Blocks(stdout, kind).find((block) => {
      const enabled =
        kind === 'Dynamic' ? ['DHCPv6', 'SLAAC'].includes(block.get('Source/Type') ?? '') : block.get('Enabled') === 'yes';
      const address = block.get('Address') ?? '';
      return block.get('Status') === 'active' && enabled && address !== '' && !NULL_V6.test(address);
    });
  const address = (pick('Dynamic') ?? pick('Static'))?.get('Address');
  const ip = address?.split('/')[0];
  return ip && isIP(ip) === 6 ? ip : null;
}

/**
 * IPA ≥ 10.1's get_bmc_mac test for a channel without an IPv4 address: any static or dynamic
 * address (whatever its status) that is neither `::…` nor link-local means IPv6 is set up.
 */
function hasRoutableV6(stdout: string): boolean {
  return [...lan6Blocks(stdout, 'Static'), ...lan6Blocks(stdout, 'Dynamic')].some((block) => {
    const address = block.get('Address') ?? '';
    return address !== '' && !address.startsWith('::') && !address.startsWith('fe80');
  });
}

/**
 * The BMC facts from each channel's `lan print` and `lan6 print` output (null where ipmitool
 * failed for that channel: not a LAN channel, or no answer).
 */
function bmcFromIpmitool(lan: ReadonlyArray<string | null>, lan6: ReadonlyArray<string | null>): BmcInfo {
  let v4: string | null = null;
  let mac: string | null = null;
  lan.forEach((out, i) => {
    if (out === null) return;
    const ip = lanField(out, 'IP');
    const channelMac = lanField(out, 'MAC');
    if (v4 === null && ip && isIP(ip) && ip !== '0.0.0.0') v4 = ip;
    // get_bmc_mac: the MAC of the first channel with an address; an unconfigured BMC
    // (0.0.0.0 and no routable IPv6) has none, and the key stays out of the inventory.
    if (mac !== null || !ip || !channelMac) return;
    if (ip === '0.0.0.0' && !hasRoutableV6(lan6[i] ?? '')) return;
    if (MAC.test(channelMac) && channelMac !== '00:00:00:00:00:00') mac = channelMac.toLowerCase();
  });
  const v6 = lan6.reduce<string | null>((found, out) => found ?? (out === null ? null : bmcV6FromLan6Print(out)), null);
  return { v4: v4 ?? '0.0.0.0', v6: v6 ?? '::/0', mac };
}

async function tryIpmitool(exec: Exec, args: string[], log?: Logger): Promise<string | null> {
  try {
    return (await exec('ipmitool', args, { timeoutMs: 15_000, quiet: true })).stdout;
  } catch (error) {
    log?.debug({ err: error, args }, 'ipmitool gave no answer');
    return null;
  }
}

/**
 * Asks channels 1–11 in order (`lan6 print` only where `lan print` answered: a LAN channel),
 * and stops once every fact is found: each is the first one in channel order, as in IPA,
 * and a real BMC takes a good fraction of a second per call.
 */
export async function detectBmc(exec: Exec, log?: Logger): Promise<BmcInfo> {
  const lan: Array<string | null> = [];
  const lan6: Array<string | null> = [];
  let info: BmcInfo = bmcFromIpmitool(lan, lan6);
  for (const channel of CHANNELS) {
    const out = await tryIpmitool(exec, ['lan', 'print', String(channel)], log);
    lan.push(out);
    lan6.push(out === null ? null : await tryIpmitool(exec, ['lan6', 'print', String(channel)], log));
    info = bmcFromIpmitool(lan, lan6);
    if (info.v4 !== '0.0.0.0' && info.v6 !== '::/0' && info.mac !== null) break;
  }
  return info;
}
