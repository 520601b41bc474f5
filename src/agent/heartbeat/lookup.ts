/**
 * The lookup (reference §12.3): ask the conductor which node owns our MACs, retrying with
 * random exponential backoff (tenacity's `wait_random_exponential(min=lookup_interval,
 * max=60)`) until `lookup_timeout` has passed; a 409 (node locked) adds 5 s, 10 s, then 30 s. A try
 * fails on connection errors, non-200, undecodable JSON, a node without uuid, or no
 * heartbeat timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { LookupNodeError } from '../errors.js';
import type { Logger } from '../../hardware/logger.js';
import type { IronicNode } from '../../hardware/step-context.js';
import { ironicErrorMessage, type IronicApiClient } from './ironic-api-client.js';

const MAX_BACKOFF_S = 60;
const CONFLICT_SLEEPS_S = [5, 10, 30];

// The agent settings it carries (agent_md5_checksum_enable, permitted_image_formats,
// disable_deep_image_inspection, enable_bios_bootloader_install) stay unknown here: each is
// checked on its own by lookup-settings.ts, so one bad value does not fail the whole lookup.
const lookupConfigSchema = z.looseObject({
  heartbeat_timeout: z.number().positive(),
  agent_token: z.string().nullable().optional(),
  agent_token_required: z.boolean().optional(),
  agent_skip_bmc_detect: z.boolean().optional(),
  tls_min_version: z.string().nullable().optional(),
  tls_cipher_suites: z.string().nullable().optional(),
});

const lookupResponseSchema = z.looseObject({
  node: z.looseObject({ uuid: z.string().min(1) }),
  config: lookupConfigSchema.optional(),
  // Before the `config` dict existed Ironic sent the timeout at the top level.
  heartbeat_timeout: z.number().positive().optional(),
});

export type LookupConfig = z.output<typeof lookupConfigSchema>;

export interface LookupResult {
  node: IronicNode & { uuid: string };
  config: LookupConfig;
  /** Keys of `config` left out because their value had another type than expected. */
  ignoredConfigKeys?: string[];
  /** Our address on the connection the answer came over (advertise-address.ts). */
  localAddress?: string | undefined;
}

/** The keys of `config` besides `heartbeat_timeout`: none of them is worth the answer. */
const OPTIONAL_CONFIG_KEYS = [
  'agent_token',
  'agent_token_required',
  'agent_skip_bmc_detect',
  'tls_min_version',
  'tls_cipher_suites',
] as const;

/**
 * Removes (in place) the optional keys whose value has another type than expected, and names
 * them. The answer with the one-time token is the only one the agent will get (later lookups
 * say "******"): failing it over, say, a cipher list sent as a list left the agent without a
 * token for good. IPA reads these loosely (`if skip_bmc:`) or hands them to oslo.config,
 * which may refuse them and end the agent; here a warning and the agent's own setting are
 * worth more than a node nobody can reach.
 */
function dropMistypedKeys(config: Record<string, unknown>): string[] {
  const ignored: string[] = [];
  for (const key of OPTIONAL_CONFIG_KEYS) {
    if (config[key] === undefined || lookupConfigSchema.shape[key].safeParse(config[key]).success) continue;
    delete config[key];
    ignored.push(key);
  }
  return ignored;
}

/**
 * A body for a log line, the agent token masked: IPA logs the lookup content as is, token
 * included, and the log goes into the bundle Ironic stores.
 */
function bodyForLog(json: unknown): string {
  return JSON.stringify(json, (key, value: unknown) => (key === 'agent_token' && value !== null ? '***' : value)).slice(0, 500);
}

/** Parses a 200 body; returns a reason string when the content is not usable. */
export function parseLookupResponse(text: string): LookupResult | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `Error decoding response: ${(error as Error).message}`;
  }
  let ignored: string[] = [];
  const received = json as { config?: unknown } | null;
  if (received && typeof received === 'object' && received.config && typeof received.config === 'object') {
    const config = { ...(received.config as Record<string, unknown>) };
    ignored = dropMistypedKeys(config);
    json = { ...received, config };
  }
  const parsed = lookupResponseSchema.safeParse(json);
  if (!parsed.success) return `Got invalid node data in response: ${bodyForLog(json)}`;
  const { node, config, heartbeat_timeout } = parsed.data;
  const extra = ignored.length > 0 ? { ignoredConfigKeys: ignored } : {};
  if (config) return { node: node as LookupResult['node'], config, ...extra };
  if (heartbeat_timeout !== undefined) return { node: node as LookupResult['node'], config: { heartbeat_timeout } };
  return `Got invalid heartbeat from the API: ${bodyForLog(json)}`;
}

/** tenacity's wait_random_exponential: U(min, max(min, min(2^(n-1), max))). */
export function backoffSeconds(attempt: number, minSeconds: number, random: () => number = Math.random): number {
  const high = Math.max(minSeconds, Math.min(2 ** (attempt - 1), MAX_BACKOFF_S));
  return minSeconds + (high - minSeconds) * random();
}

export interface LookupOptions {
  client: IronicApiClient;
  log: Logger;
  /** Read before every try: a NIC whose driver loads late still gets looked up. */
  addresses: () => Promise<readonly string[]>;
  nodeUuid?: string | undefined;
  /** Seconds: give up after this long. */
  timeout: number;
  /** Seconds: the smallest wait between tries. */
  interval: number;
  signal?: AbortSignal;
}

export async function lookupNode(options: LookupOptions): Promise<LookupResult> {
  const { client, log } = options;
  const deadline = Date.now() + options.timeout * 1000;
  let attempt = 0;
  let conflicts = 0;
  for (;;) {
    attempt += 1;
    options.signal?.throwIfAborted();
    let extraSleep = 0;
    let addresses: readonly string[] = [];
    try {
      // The version detection (until it succeeds) runs while the NICs are read; client.lookup
      // refuses to ask while it fails.
      [addresses] = await Promise.all([options.addresses(), client.detectApiVersion(options.signal).catch(() => undefined)]);
      if (addresses.length === 0) log.warn('no network interface with a MAC address yet');
      const response = await client.lookup(addresses, options.nodeUuid, options.signal);
      if (response.status === 200) {
        const result = parseLookupResponse(response.text);
        if (typeof result !== 'string') {
          if (result.ignoredConfigKeys) {
            log.warn(
              { ignored: result.ignoredConfigKeys },
              `ignoring ${result.ignoredConfigKeys.join(', ')} in the conductor's lookup config: not of the expected type; the agent keeps its own setting`,
            );
          }
          log.info({ node: result.node.uuid, attempt }, 'lookup succeeded');
          return { ...result, localAddress: response.localAddress };
        }
        log.warn({ url: response.url }, result);
      } else {
        // Ironic's reason, as IPA logs it: a 404 (not enrolled, or in a state that allows
        // no lookup), a 400 (no usable MAC), a 403 (ramdisk endpoints disabled) read alike
        // without it.
        const error = `Error ${response.status}: ${ironicErrorMessage(response.text)}`.slice(0, 500);
        const context = { url: response.url, status: response.status, addresses: addresses.join(',') };
        if (response.status === 409) {
          extraSleep = CONFLICT_SLEEPS_S[Math.min(conflicts, CONFLICT_SLEEPS_S.length - 1)]!;
          conflicts += 1;
          log.warn(
            context,
            `Ironic has responded with a conflict, signaling the node is locked. We will wait ${extraSleep} seconds before trying again. ${error}`,
          );
        } else {
          log.warn(
            context,
            `Failed looking up node with addresses ${addresses.join(',')} at ${response.url.split('?')[0]}. Check if inspection has completed? ${error}`,
          );
        }
      }
    } catch (error) {
      if (options.signal?.aborted) throw error;
      log.warn({ err: error }, 'Error detected while attempting to perform lookup, retrying');
    }
    // IPA's tenacity stop_after_delay: give up once lookup_timeout has passed, never
    // because the next wait would cross it (that lost up to a minute of the operator's
    // timeout, half of a short one). Unlike IPA, whose last wait overshoots the deadline by up
    // to 60 s (+30 s after a 409), the last wait ends at the deadline for one last try there.
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new LookupNodeError('Could not look up node info. Check logs for details.');
    const waitMs = Math.min((backoffSeconds(attempt, options.interval) + extraSleep) * 1000, remainingMs);
    await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {});
  }
}

export type TokenDecision =
  | { kind: 'accept'; token: string }
  | { kind: 'keep-existing' }
  | { kind: 'fatal'; reason: string }
  | { kind: 'ignore'; reason: string };

/**
 * What to do with `config.agent_token` (reference §17.1): a real token (≥ 32 chars) is
 * taken; `"******"` means it was already revealed, which is fine only when we hold one
 * (pre-shared, or from an earlier lookup) and fatal otherwise; anything else is ignored.
 */
export function decideToken(received: string | null | undefined, holdingToken: boolean): TokenDecision {
  if (typeof received === 'string' && received === '******') {
    return holdingToken
      ? { kind: 'keep-existing' }
      : {
          kind: 'fatal',
          reason: 'the conductor revealed the agent token to another agent already ("******") and none was pre-shared',
        };
  }
  if (typeof received === 'string' && received.length >= 32) return { kind: 'accept', token: received };
  if (received === null || received === undefined) {
    return holdingToken ? { kind: 'keep-existing' } : { kind: 'ignore', reason: 'the conductor sent no agent token' };
  }
  return { kind: 'ignore', reason: 'the agent token from the conductor is invalid (shorter than 32 characters)' };
}
