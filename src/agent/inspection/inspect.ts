/**
 * IPA's in-band inspection (inspector.inspect + call_inspector), run before the lookup so
 * an unknown machine is known by the time it looks itself up:
 *
 * - enabled by `ipa-inspection-callback-url`, or by `ipa-inspection-collectors` together
 *   with an API URL (then the data goes to each API URL's `/v1/continue_inspection`);
 * - the callback URL is used as given: ironic-inspector's `/v1/continue` (2023.1) or
 *   Ironic's own `/v1/continue_inspection` (2024.1+). Neither needs a version header and
 *   both answer `{"uuid": ...}` to the request IPA sends, so one body serves both;
 * - collectors run in order; their errors are gathered and sent as `error`, and only then
 *   does inspection fail (the node's logs reach the inspector even when something broke);
 * - the answer's `uuid` is passed to the lookup as `node_uuid`. The `ipmi_*` credential
 *   set-up inspector answers once carried is gone from IPA and ironic-inspector since
 *   Pike ("Clean up deprecated items in the inspection code"); nothing else is read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { createAgents, destroyAgents, send, type HttpAgents } from '../heartbeat/http-client.js';
import type { AgentServices } from '../services.js';
import { COLLECTORS, type InspectionData } from './collectors.js';
import { AccumulatedFailures, InspectionError } from './failures.js';

const DEFAULT_COLLECTORS = 'default,logs';
const RETRY_ATTEMPTS = 5;
/** tenacity's wait_exponential(multiplier=1.5, min=5, max=30), seconds. */
const inspectorRetryWait = (attempt: number) => Math.min(Math.max(1.5 * 2 ** (attempt - 1), 5), 30);

export interface InspectionOptions {
  signal?: AbortSignal;
  /** Seconds between posting attempts (default IPA's); tests shorten it. */
  retryWait?: (attempt: number) => number;
  sysRoot?: string;
}

function collectorNames(services: AgentServices): string[] {
  return (services.config.inspectionCollectors || DEFAULT_COLLECTORS)
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
}

function inspectionEnabled(services: AgentServices): boolean {
  const { config } = services;
  return Boolean(config.inspectionCallbackUrl || (config.inspectionCollectors && config.apiUrls.length > 0));
}

/** IPA's `_get_urls`. */
function inspectionUrls(services: AgentServices): string[] {
  const { config } = services;
  if (config.inspectionCallbackUrl) return config.inspectionCallbackUrl.split(',').filter(Boolean);
  return config.apiUrls.map((u) => `${u.replace(/\/+$/, '')}/v1/continue_inspection`);
}

/** Python's repr of a list of strings, as IPA's "Failed to load collector ['x']". */
const pyList = (names: readonly string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;

/** The node's UUID as the inspector answered, or undefined when inspection is disabled. */
export async function inspect(services: AgentServices, options: InspectionOptions = {}): Promise<string | undefined> {
  const { log } = services;
  if (!inspectionEnabled(services)) {
    log.info('Inspection is disabled, skipping');
    return undefined;
  }
  if (services.config.inspectionCallbackUrl === 'mdns') {
    throw new InspectionError('inspection_callback_url=mdns is not supported: give the inspector URL');
  }
  const names = collectorNames(services);
  log.info({ collectors: names }, 'inspection is enabled');
  const failures = new AccumulatedFailures();
  const data: InspectionData = {};

  const unknown = names.filter((n) => !(n in COLLECTORS));
  if (unknown.length > 0) {
    failures.add(`Failed to load collector ${pyList(unknown)}`);
    await callInspector(services, data, failures, options);
    throw new InspectionError(failures.error()!);
  }
  for (const name of names) {
    try {
      await COLLECTORS[name]!(data, failures, {
        services,
        collectorNames: names,
        signal: options.signal,
        sysRoot: options.sysRoot,
      });
    } catch (error) {
      failures.add(`collector ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const answer = await callInspector(services, data, failures, options);
  if (failures.count > 0) throw new InspectionError(failures.error()!);
  if (answer === undefined) throw new InspectionError('stopping inspection, as inspector returned an error');
  log.info('inspection finished successfully');
  return typeof answer.uuid === 'string' ? answer.uuid : undefined;
}

function clientAgents(services: AgentServices): HttpAgents {
  const { config } = services;
  return createAgents({
    rejectUnauthorized: !config.insecure,
    minVersion: config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ciphers: config.tlsCipherSuites,
    ca: config.cafile ? readFileSync(config.cafile) : undefined,
    cert: config.certfile ? readFileSync(config.certfile) : undefined,
    key: config.keyfile ? readFileSync(config.keyfile) : undefined,
  });
}

class RetryableResponse extends Error {}

/**
 * POST the data; URLs are tried in turn on connection errors, and the whole round is
 * retried (5 attempts) on connection errors, 5xx and 409. Another 4xx is logged and gives
 * undefined ("proceeding with lookup"), as IPA.
 */
async function callInspector(
  services: AgentServices,
  data: InspectionData,
  failures: AccumulatedFailures,
  options: InspectionOptions = {},
): Promise<Record<string, unknown> | undefined> {
  const { config, log } = services;
  data.error = failures.error();
  const { logs: _logs, ...loggable } = data;
  log.debug({ data: loggable }, 'collected data');
  const body = JSON.stringify(data);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    ...(config.globalRequestId ? { 'x-openstack-request-id': config.globalRequestId } : {}),
  };
  const urls = inspectionUrls(services);
  const agents = clientAgents(services);
  const wait = options.retryWait ?? inspectorRetryWait;
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await postOnce(urls, body, headers, agents, services, options.signal);
        if (response.status >= 500 || response.status === 409)
          throw new RetryableResponse(`status ${response.status}: ${response.text}`);
        if (response.status >= 400) {
          log.error(
            { url: response.url, status: response.status, body: response.text },
            'inspector error, proceeding with lookup',
          );
          return undefined;
        }
        try {
          return JSON.parse(response.text) as Record<string, unknown>;
        } catch {
          throw new InspectionError(`inspector at ${response.url} answered ${response.status} with a body that is not JSON`);
        }
      } catch (error) {
        if (error instanceof InspectionError || options.signal?.aborted) throw error;
        if (attempt >= RETRY_ATTEMPTS) {
          // IPA lets this escape and its service restarts; here the lookup follows, which
          // for an enrolled node is what the restart would have reached too.
          throw new InspectionError(`posting inspection data failed after ${attempt} attempts: ${(error as Error).message}`);
        }
        log.warn({ err: error, attempt }, 'posting inspection data failed, retrying');
        await sleep(wait(attempt) * 1000, undefined, options.signal ? { signal: options.signal } : {});
      }
    }
  } finally {
    destroyAgents(agents);
  }
}

async function postOnce(
  urls: readonly string[],
  body: string,
  headers: Record<string, string>,
  agents: HttpAgents,
  services: AgentServices,
  signal: AbortSignal | undefined,
): Promise<{ url: string; status: number; text: string }> {
  for (const [index, url] of urls.entries()) {
    services.log.info({ url }, 'Posting collected data');
    try {
      const response = await send(url, {
        method: 'POST',
        headers,
        body,
        agents,
        timeoutMs: services.config.httpRequestTimeout * 1000,
        signal,
      });
      return { url, ...response };
    } catch (error) {
      if (index === urls.length - 1) throw error;
      services.log.warn({ url, err: error }, 'Connection error, trying the next URL');
    }
  }
  throw new InspectionError('no inspection URL configured');
}
