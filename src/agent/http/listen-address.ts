/**
 * The address the API listens on. An operator's (`--listen`, `ipa-listen-host`) is used as
 * given, always. Without one, IPA's default, `netutils.get_wildcard_address()`: `::` when
 * IPv6 is enabled, else `0.0.0.0`. On a kernel booted with `ipv6.disable=1` binding `::`
 * fails (EAFNOSUPPORT), and it would fail after the lookup took the node's one-time token:
 * the node could then never be reached.
 *
 * The advertised address (the heartbeat's `callback_url`) is chosen apart from this
 * (heartbeat/advertise-address.ts); without IPv6 it is an IPv4 address, which `0.0.0.0` serves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/logger.js';

const IPV6_WILDCARD = '::';
const IPV4_WILDCARD = '0.0.0.0';

/**
 * oslo.utils `netutils.is_ipv6_enabled()`, which IPA's wildcard follows: enabled when
 * `/proc/sys/net/ipv6/conf/default/disable_ipv6` exists and reads 0. The file is missing when
 * the kernel has no IPv6 (`ipv6.disable=1`), and reads 1 with `ipv6.disable_ipv6=1`.
 */
export function ipv6Enabled(procRoot = '/proc'): boolean {
  try {
    return readFileSync(join(procRoot, 'sys/net/ipv6/conf/default/disable_ipv6'), 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

/** The host to listen on: the configured one, else the wildcard IPv6 allows (logged when IPv4). */
export function listenHost(configured: string | undefined, log: Logger, procRoot?: string): string {
  if (configured !== undefined) return configured;
  if (ipv6Enabled(procRoot)) return IPV6_WILDCARD;
  log.info(
    { listenHost: IPV4_WILDCARD },
    `IPv6 is disabled on this machine: the API listens on ${IPV4_WILDCARD} (IPv4) instead of ${IPV6_WILDCARD}`,
  );
  return IPV4_WILDCARD;
}
