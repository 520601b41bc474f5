/**
 * The agent's HTTP client for the two ramdisk endpoints of the Ironic API (reference §12.1,
 * §12.2): `GET /v1/lookup` and `POST /v1/heartbeat/{uuid}`.
 *
 * Several API URLs are tried in turn on connection-class failures, and the one that answered
 * moves to the front. The Ironic API microversion is detected once (`GET /`) unless pinned;
 * until detection succeeds the minimum, 1.31, is assumed (and detection is retried).
 */
import { readFileSync } from 'node:fs';
import { createAgents, destroyAgents, send, type HttpAgents } from './http-client.js';
import { z } from 'zod';
import { defineIpaError } from '../../hardware/errors.js';
import { AGENT_ERRORS, HeartbeatConflictError, HeartbeatConnectionError, HeartbeatError } from '../errors.js';
import type { Logger } from '../../hardware/logger.js';

export type ApiVersion = readonly [number, number];

const MIN_IRONIC_VERSION: ApiVersion = [1, 31];
const AGENT_VERSION_IRONIC_VERSION: ApiVersion = [1, 36];
const AGENT_TOKEN_IRONIC_VERSION: ApiVersion = [1, 62];
export const AGENT_VERIFY_CA_IRONIC_VERSION: ApiVersion = [1, 68];

export function compareVersions(a: ApiVersion, b: ApiVersion): number {
  return a[0] - b[0] || a[1] - b[1];
}

function minVersion(a: ApiVersion, b: ApiVersion): ApiVersion {
  return compareVersions(a, b) <= 0 ? a : b;
}

function formatVersion(v: ApiVersion): string {
  return `${v[0]}.${v[1]}`;
}

function parseVersion(text: string): ApiVersion | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * `ipa-ironic-api-version` as IPA reads it: `int()` of the first two dot-separated parts, so
 * `1.62.0` is 1.62. IPA logs a value it cannot read and detects the version instead.
 */
function parsePinnedVersion(text: string): ApiVersion | undefined {
  const [major, minor] = text.split('.');
  const int = (part: string | undefined) => (part !== undefined && /^\s*\d+\s*$/.test(part) ? Number(part) : undefined);
  const [a, b] = [int(major), int(minor)];
  return a !== undefined && b !== undefined ? [a, b] : undefined;
}

export interface IronicApiClientOptions {
  apiUrls: readonly string[];
  log: Logger;
  requestTimeoutMs: number;
  /** `ipa-ironic-api-version`: skip detection. */
  pinnedVersion?: string | undefined;
  globalRequestId?: string | undefined;
  insecure?: boolean;
  cafile?: string | undefined;
  certfile?: string | undefined;
  keyfile?: string | undefined;
  tlsMinVersion?: '1.2' | '1.3';
  /** TLS 1.2 cipher suites (OpenSSL names). */
  ciphers?: string | undefined;
}

export interface ApiResponse {
  url: string;
  status: number;
  text: string;
  /** Our address on the connection that carried the answer. */
  localAddress?: string | undefined;
}

/** Every URL failed at the connection level (refused, reset, timed out, TLS). */
class ApiConnectionError extends Error {
  readonly causes: unknown[];
  constructor(message: string, causes: unknown[]) {
    super(message, { cause: causes.at(-1) });
    this.causes = causes;
  }
}

/** A heartbeat the conductor answered with something else than 202. */
export class HeartbeatRejectedError extends defineIpaError(AGENT_ERRORS.HeartbeatRejectedError, HeartbeatError) {
  readonly status: number;
  readonly faultstring: string;
  constructor(status: number, faultstring: string) {
    super(`Error ${status}: ${faultstring}`);
    this.status = status;
    this.faultstring = faultstring;
  }

  /** The conductor no longer knows our token (it was wiped by a power action): look up again. */
  get isTokenRejection(): boolean {
    return this.status === 400 && /agent token/i.test(this.faultstring);
  }
}

const rootSchema = z.looseObject({ default_version: z.looseObject({ version: z.string() }) });

/**
 * Ironic wraps errors as `{"error_message": "<JSON with faultstring>"}`; other servers send
 * `{"faultstring"}`, `{"title"}` or plain text. Returns the most specific message found.
 */
export function ironicErrorMessage(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object') {
      const record = body as Record<string, unknown>;
      let inner: unknown = record.error_message;
      if (typeof inner === 'string') {
        try {
          inner = JSON.parse(inner);
        } catch {
          return inner as string;
        }
      }
      for (const candidate of [inner, record]) {
        if (candidate && typeof candidate === 'object') {
          const c = candidate as Record<string, unknown>;
          if (typeof c.faultstring === 'string') return c.faultstring;
          if (typeof c.title === 'string') return c.title;
        }
      }
    }
  } catch {
    // not JSON: the text itself
  }
  return text.trim();
}

export class IronicApiClient {
  #urls: string[];
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #agents: HttpAgents;
  readonly #headers: Record<string, string>;
  #version: ApiVersion | undefined;

  constructor(options: IronicApiClientOptions) {
    if (options.apiUrls.length === 0) throw new TypeError('at least one Ironic API URL is required');
    this.#urls = options.apiUrls.map((u) => u.replace(/\/+$/, ''));
    this.#log = options.log;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#version = options.pinnedVersion ? parsePinnedVersion(options.pinnedVersion) : undefined;
    if (options.pinnedVersion && !this.#version) {
      this.#log.warn(
        `An error occurred while attempting to parse the ironic_api_version ${JSON.stringify(options.pinnedVersion)}. Will fall back to auto-detection`,
      );
    }
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(options.globalRequestId ? { 'x-openstack-request-id': options.globalRequestId } : {}),
    };
    // IPA keeps at most two connections to the API.
    this.#agents = createAgents({
      rejectUnauthorized: !options.insecure,
      minVersion: options.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
      ciphers: options.ciphers,
      ca: options.cafile ? readFileSync(options.cafile) : undefined,
      cert: options.certfile ? readFileSync(options.certfile) : undefined,
      key: options.keyfile ? readFileSync(options.keyfile) : undefined,
    });
  }

  get apiUrls(): readonly string[] {
    return this.#urls;
  }

  /** Idempotent: the agent may stop its link from several paths (power off, then close). */
  async close(): Promise<void> {
    destroyAgents(this.#agents);
  }

  /** One request, trying each URL in turn on connection-class errors. */
  async request(
    method: 'GET' | 'POST',
    path: string,
    init: { headers?: Record<string, string>; body?: unknown; signal?: AbortSignal } = {},
  ): Promise<ApiResponse> {
    const causes: unknown[] = [];
    for (const base of [...this.#urls]) {
      const url = `${base}${path}`;
      try {
        const response = await send(url, {
          method,
          agents: this.#agents,
          headers: { ...this.#headers, ...init.headers },
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          timeoutMs: this.#timeoutMs,
          signal: init.signal,
        });
        if (this.#urls[0] !== base) this.#urls = [base, ...this.#urls.filter((u) => u !== base)];
        return { url, status: response.status, text: response.text, localAddress: response.localAddress };
      } catch (error) {
        if (init.signal?.aborted) throw error;
        this.#log.warn({ url, err: error }, 'Ironic API request failed, trying the next URL if any');
        causes.push(error);
      }
    }
    const last = causes.at(-1);
    throw new ApiConnectionError(`no Ironic API URL answered: ${last instanceof Error ? last.message : String(last)}`, causes);
  }

  /**
   * The pinned or detected Ironic API microversion (`GET /`, once it succeeds); rejects while
   * detection fails.
   */
  async detectApiVersion(signal?: AbortSignal): Promise<ApiVersion> {
    if (this.#version) return this.#version;
    const response = await this.request('GET', '/', signal ? { signal } : {});
    let version: ApiVersion | undefined;
    try {
      const parsed = rootSchema.safeParse(JSON.parse(response.text));
      version = parsed.success ? parseVersion(parsed.data.default_version.version) : undefined;
    } catch {
      // not JSON: reported below
    }
    if (!version) throw new Error(`unexpected answer to GET / (HTTP ${response.status})`);
    this.#version = version;
    this.#log.info({ version: formatVersion(version) }, 'detected the Ironic API version');
    return version;
  }

  /** The detected (or pinned) Ironic API microversion; 1.31 while detection fails (IPA's). */
  async apiVersion(signal?: AbortSignal): Promise<ApiVersion> {
    try {
      return await this.detectApiVersion(signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#log.warn(
        { err: error },
        `An error occurred while attempting to discover the available Ironic API versions, falling back to using version ${formatVersion(MIN_IRONIC_VERSION)}`,
      );
      return MIN_IRONIC_VERSION;
    }
  }

  /**
   * `GET /v1/lookup?addresses=...[&node_uuid=...]` with version ≤ 1.62. Rejects, without
   * asking, while the version is not known. IPA looks up at 1.31 then, and Ironic hands the
   * agent token out only to lookups at 1.62 or later: the agent got none, and since Ironic
   * 16.0 (Victoria) refuses heartbeats without one ("Agent token is required for heartbeat
   * processing.") the node waited for the conductor's timeout although the API answered
   * the next request. Here that try fails and the lookup tries again (its backoff, until
   * `lookup_timeout`); a pinned version (`ipa-ironic-api-version`) is used as given.
   */
  async lookup(addresses: readonly string[], nodeUuid: string | undefined, signal?: AbortSignal): Promise<ApiResponse> {
    let detected: ApiVersion;
    try {
      detected = await this.detectApiVersion(signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new Error(
        `the Ironic API version is not known yet (${error instanceof Error ? error.message : String(error)}): ` +
          'not looking up at 1.31, which would give no agent token (ipa-ironic-api-version=1.68 pins the version ' +
          'where the API root cannot be read)',
        { cause: error },
      );
    }
    const version = minVersion(detected, AGENT_TOKEN_IRONIC_VERSION);
    const query = new URLSearchParams({ addresses: addresses.join(',') });
    if (nodeUuid) query.set('node_uuid', nodeUuid);
    return this.request('GET', `/v1/lookup?${query.toString()}`, {
      headers: { 'x-openstack-ironic-api-version': formatVersion(version) },
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * `POST /v1/heartbeat/{uuid}` with version ≤ 1.68; resolves on 202. The body keys and
   * their order are IPA's; each is sent only from the version that knows it.
   */
  async heartbeat(
    uuid: string,
    payload: { callbackUrl: string; agentToken: string | null; agentVersion: string; agentVerifyCa?: string | undefined },
    signal?: AbortSignal,
  ): Promise<void> {
    const detected = await this.apiVersion(signal);
    const body: Record<string, unknown> = { callback_url: payload.callbackUrl };
    if (compareVersions(detected, AGENT_TOKEN_IRONIC_VERSION) >= 0) body.agent_token = payload.agentToken;
    if (compareVersions(detected, AGENT_VERSION_IRONIC_VERSION) >= 0) body.agent_version = payload.agentVersion;
    if (payload.agentVerifyCa && compareVersions(detected, AGENT_VERIFY_CA_IRONIC_VERSION) >= 0) {
      body.agent_verify_ca = payload.agentVerifyCa;
    }
    let response: ApiResponse;
    try {
      response = await this.request('POST', `/v1/heartbeat/${encodeURIComponent(uuid)}`, {
        headers: { 'x-openstack-ironic-api-version': formatVersion(minVersion(detected, AGENT_VERIFY_CA_IRONIC_VERSION)) },
        body,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new HeartbeatConnectionError(error instanceof Error ? error.message : String(error), { cause: error });
    }
    if (response.status === 202) return;
    const message = ironicErrorMessage(response.text);
    if (response.status === 409) throw new HeartbeatConflictError(message);
    throw new HeartbeatRejectedError(response.status, message);
  }
}
