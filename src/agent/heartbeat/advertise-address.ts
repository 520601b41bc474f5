/**
 * The address put in the callback URL (reference §12.5): `--advertise-host`, else the IPv4
 * of `--network-interface`, else our address on the connection the lookup was answered over,
 * else the source address the kernel would use to reach a conductor URL that answers (`ip
 * route get`), probing up to `ip_lookup_attempts` times.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgents, destroyAgents, send, type HttpAgents } from './http-client.js';
import { z } from 'zod';
import { LookupAgentIPError } from '../errors.js';
import type { Logger } from '../../hardware/logger.js';
import type { Exec } from '../../hardware/step-context.js';

export interface AdvertiseOptions {
  advertiseHost?: string | undefined;
  networkInterface?: string | undefined;
  /** Our address on the connection the successful lookup was answered over. */
  lookupLocalAddress?: string | undefined;
  apiUrls: readonly string[];
  /**
   * The client certificate the agent presents to the conductor (IPA's `certfile`/`keyfile`):
   * an API behind mutual TLS refuses the probe below without it.
   */
  certfile?: string | undefined;
  keyfile?: string | undefined;
  attempts: number;
  /** Seconds between attempts. */
  sleepSeconds: number;
  exec: Exec;
  log: Logger;
  signal?: AbortSignal;
}

const routeSchema = z.array(z.looseObject({ prefsrc: z.string().optional() }));
const addrSchema = z.array(
  z.looseObject({
    addr_info: z.array(z.looseObject({ family: z.string().optional(), local: z.string().optional() })).default([]),
  }),
);

function isLinkLocal(ip: string): boolean {
  return ip.startsWith('169.254.') || ip.toLowerCase().startsWith('fe80:');
}

/** `http://host:port`, IPv6 literals in brackets. */
export function callbackUrl(protocol: 'http' | 'https', host: string, port: number): string {
  return `${protocol}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

async function interfaceIpv4(exec: Exec, name: string): Promise<string | undefined> {
  const { stdout } = await exec('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { timeoutMs: 10_000, quiet: true });
  const entries = addrSchema.parse(JSON.parse(stdout));
  return entries.flatMap((e) => e.addr_info).find((a) => a.family === 'inet' && a.local)?.local;
}

/** The kernel's source address towards `ip`, unless link-local. */
async function routeSource(exec: Exec, ip: string): Promise<string | undefined> {
  const { stdout } = await exec('ip', ['-j', 'route', 'get', ip], { timeoutMs: 10_000, quiet: true });
  const src = routeSchema.parse(JSON.parse(stdout))[0]?.prefsrc;
  return src && !isLinkLocal(src) ? src : undefined;
}

/**
 * The route source towards the first of `host`'s addresses that has one. As IPA's
 * `_get_route_source`, a name that does not resolve or an address whose route cannot be read
 * (`ip route get` refusing an IPv6 address of a dual-stack name: "Network is unreachable")
 * is logged and the next one tried; it used to end the whole attempt, hiding the addresses
 * and URLs after it.
 */
async function firstRouteSource(exec: Exec, log: Logger, host: string): Promise<string | undefined> {
  let addresses: string[] = [host];
  if (!isIP(host)) {
    try {
      addresses = (await dnsLookup(host, { all: true })).map((a) => a.address);
    } catch (error) {
      log.warn({ err: error, host }, 'cannot resolve the conductor host name');
      return undefined;
    }
  }
  for (const address of addresses) {
    try {
      const src = await routeSource(exec, address);
      if (src) return src;
    } catch (error) {
      log.warn({ err: error, address }, 'cannot get the route to the conductor address');
    }
  }
  return undefined;
}

async function reachable(url: string, agents: HttpAgents, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await send(url, { method: 'GET', agents, timeoutMs: 10_000, signal });
    return true; // any HTTP answer will do
  } catch {
    return false;
  }
}

/** `::ffff:192.0.2.1` as `192.0.2.1`; undefined for a link-local address (IPA skips those). */
function usableLocalAddress(address: string | undefined): string | undefined {
  const plain = address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return plain && isIP(plain) && !isLinkLocal(plain) ? plain : undefined;
}

export async function resolveAdvertiseHost(options: AdvertiseOptions): Promise<string> {
  if (options.advertiseHost) return options.advertiseHost;
  const { exec, log } = options;
  // What IPA's _get_route_source looks for: the source address of the route to the conductor
  // that answered. The lookup's connection has it, taken by the kernel for the very address
  // (and family) that answered. IPA asks `ip route get` for each address the API host name
  // resolves to, in no set order: with a name that resolves to IPv6 and IPv4 and an IPv6
  // route, it can advertise the IPv6 source to a conductor that only listens on IPv4, and so
  // did this agent (first address first). The probe below stays for a link-local source
  // (skipped, as IPA skips it) and for the rounds after a failed one.
  const fromLookup = options.networkInterface ? undefined : usableLocalAddress(options.lookupLocalAddress);
  if (fromLookup) return fromLookup;
  // Reachability only: any answer counts, so the server's certificate is not checked. Ours is
  // presented, as on the lookup: IPA's probe (requests.get(url, verify=False)) sends none, so
  // an API that requires one looks unreachable right after the lookup took the one-time
  // token, and IPA then fails with LookupAgentIPError, as this agent did.
  const agents = createAgents({
    rejectUnauthorized: false,
    cert: options.certfile ? readFileSync(options.certfile) : undefined,
    key: options.keyfile ? readFileSync(options.keyfile) : undefined,
  });
  try {
    for (let attempt = 1; attempt <= Math.max(1, options.attempts); attempt++) {
      options.signal?.throwIfAborted();
      try {
        if (options.networkInterface) {
          const ip = await interfaceIpv4(exec, options.networkInterface);
          if (ip) return ip;
        } else {
          for (const url of options.apiUrls) {
            if (!(await reachable(url, agents, options.signal))) continue;
            const src = await firstRouteSource(exec, log, new URL(url).hostname.replace(/^\[|\]$/g, ''));
            if (src) return src;
          }
        }
      } catch (error) {
        log.warn({ err: error, attempt }, 'could not determine the address to advertise yet');
      }
      if (attempt < options.attempts) {
        log.warn({ attempt, of: options.attempts }, `no address to advertise yet, retrying in ${options.sleepSeconds} s`);
        await sleep(options.sleepSeconds * 1000, undefined, options.signal ? { signal: options.signal } : {});
      }
    }
  } finally {
    destroyAgents(agents);
  }
  throw new LookupAgentIPError(
    options.networkInterface
      ? `Unable to find an IP address to advertise: ${options.networkInterface} has no IPv4 address`
      : 'Unable to find an IP address to advertise: no conductor URL was reachable, or no route to one had a source address',
  );
}

/**
 * The address to advertise once the lookup has taken the one-time agent token: rounds of
 * `resolveAdvertiseHost` (`attempts` tries, `sleepSeconds` apart), each failed round logged
 * as an error, until one finds an address or `signal` (the agent stopping) ends them.
 *
 * IPA ends here (LookupAgentIPError: with auto-TLS its process exits and init restarts it,
 * without it the heartbeat thread dies and the agent serves without ever heartbeating). The
 * token is spent either way: the restarted agent's lookup gets "******" and it never serves,
 * and the node waits for Ironic's timeout (about 30 min when cleaning). Trying on cannot be
 * worse, and a network that comes up late (a DHCP lease, a conductor back from a restart)
 * still ends in heartbeats with the token we hold.
 */
export async function resolveAdvertiseHostAfterLookup(options: AdvertiseOptions): Promise<string> {
  for (let round = 1; ; round++) {
    try {
      return await resolveAdvertiseHost(options);
    } catch (error) {
      if (!(error instanceof LookupAgentIPError)) throw error;
      options.log.error(
        { err: error, round },
        `${error.message}; the lookup already took the one-time agent token, so trying again in ${options.sleepSeconds} s rather than exiting`,
      );
    }
    await sleep(options.sleepSeconds * 1000, undefined, options.signal ? { signal: options.signal } : {});
  }
}
