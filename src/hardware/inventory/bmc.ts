/**
 * BMC addresses through `ipmitool` (reference §11): only when an IPMI character device
 * exists; channels 1–11; `0.0.0.0` / `::/0` when IPMI answers but no address is set, null
 * when there is no IPMI at all (virtual machines, containers) or the conductor said
 * `agent_skip_bmc_detect`. Found once per process, as IPA caches it.
 */
import { readdir } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';

export interface BmcInfo {
  v4: string | null;
  v6: string | null;
  mac: string | null;
}

const CHANNELS = Array.from({ length: 11 }, (_, i) => i + 1);

export async function hasIpmiDevice(devRoot = '/dev'): Promise<boolean> {
  const top = await readdir(devRoot).catch(() => [] as string[]);
  if (top.some((name) => name.startsWith('ipmi'))) return true;
  for (const sub of ['ipmi', 'ipmidev']) {
    if ((await readdir(`${devRoot}/${sub}`).catch(() => [] as string[])).length > 0) return true;
  }
  return false;
}

/** `Key   : value` from `ipmitool lan print`. */
function parseLanPrint(stdout: string): { ip: string | null; mac: string | null } {
  const ip = /^IP Address\s+:\s*(\S+)\s*$/m.exec(stdout)?.[1] ?? null;
  const mac = /^MAC Address\s+:\s*(\S+)\s*$/m.exec(stdout)?.[1] ?? null;
  return { ip, mac: mac?.toLowerCase() ?? null };
}

/** First non-link-local `Address: x/len` in `ipmitool lan6 print` whose status is active. */
function parseLan6Print(stdout: string): string | null {
  const blocks = stdout.split(/^(?=IPv6 (?:Static|Dynamic) Address)/m);
  for (const block of blocks) {
    const address = /^\s*Address:\s*(\S+)/m.exec(block)?.[1];
    const status = /^\s*Status:\s*(\S+)/m.exec(block)?.[1];
    if (!address || (status && status !== 'active')) continue;
    const ip = address.split('/')[0]!;
    if (ip === '::' || ip.toLowerCase().startsWith('fe80')) continue;
    return ip;
  }
  return null;
}

async function tryIpmitool(exec: Exec, args: string[], log?: Logger): Promise<string | null> {
  try {
    return (await exec('ipmitool', args, { timeoutMs: 15_000, quiet: true })).stdout;
  } catch (error) {
    log?.debug({ err: error, args }, 'ipmitool gave no answer');
    return null;
  }
}

export async function detectBmc(exec: Exec, log?: Logger): Promise<BmcInfo> {
  // Each ipmitool call can take a good fraction of a second on a real BMC: find the LAN
  // channels once and ask only those for IPv6.
  const lanChannels: number[] = [];
  let v4: string | null = null;
  let mac: string | null = null;
  for (const channel of CHANNELS) {
    const out = await tryIpmitool(exec, ['lan', 'print', String(channel)], log);
    if (out === null || out.startsWith('Invalid channel')) continue;
    lanChannels.push(channel);
    const parsed = parseLanPrint(out);
    if (parsed.ip && parsed.ip !== '0.0.0.0') {
      v4 = parsed.ip;
      mac = parsed.mac;
      break;
    }
    mac ??= parsed.mac && parsed.mac !== '00:00:00:00:00:00' ? parsed.mac : null;
  }
  if (lanChannels.length === 0) return { v4: null, v6: null, mac: null };
  let v6: string | null = null;
  for (const channel of lanChannels) {
    const out = await tryIpmitool(exec, ['lan6', 'print', String(channel)], log);
    v6 = out === null ? null : parseLan6Print(out);
    if (v6) break;
  }
  return { v4: v4 ?? '0.0.0.0', v6: v6 ?? '::/0', mac };
}
