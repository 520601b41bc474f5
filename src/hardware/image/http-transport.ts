/**
 * One GET over node:http/https as `requests` would send it for IPA: the proxy for the
 * URL's scheme (image_info's `proxies`, else HTTP(S)_PROXY), `no_proxy` honoured, HTTPS
 * through a proxy tunnelled with CONNECT, and the agent's CA / client certificate /
 * insecure setting. node:http rather than undici: its parser is native (undici's is
 * WebAssembly, ~20 MiB to load and compile on an agent's first image) and it received
 * faster here. HTTP and HTTPS without a proxy, what images are usually served with, go
 * through http-direct.ts instead, which reads the body straight into the writer's buffers.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { directGet, type DirectResponse } from './http-direct.js';

/** A response's status and headers, its body as a stream (node:http's or http-direct's). */
export type HttpResponse = Readable & { statusCode?: number | undefined; headers: IncomingHttpHeaders };

export interface TransportOptions {
  tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
  proxies: { http?: string | undefined; https?: string | undefined };
  noProxy: string | undefined;
  /** Inactivity limit for connecting, headers and body alike. */
  stallMs: number;
}

export class HttpTransport {
  readonly #options: TransportOptions;
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 2 });
  readonly #direct = new Set<DirectResponse>();

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** Sends a GET; resolves with the response (any status) once its headers arrived. */
  get(url: URL, headers: OutgoingHttpHeaders, signal?: AbortSignal): Promise<HttpResponse> {
    const proxy = this.#proxyFor(url);
    if (!proxy) {
      return directGet({ url, headers, stallMs: this.#options.stallMs, signal, tls: this.#options.tls }).then((response) => {
        this.#direct.add(response);
        response.once('close', () => this.#direct.delete(response));
        return response;
      });
    }
    const proxyHeaders = proxyAuthorization(proxy);
    if (url.protocol === 'http:') {
      // Plain HTTP through a proxy: the absolute URL on the request line.
      return this.#send(
        proxy,
        { headers: { ...headers, ...proxyHeaders, host: url.host }, path: url.href, agent: this.#http },
        signal,
      );
    }
    return this.#tunnel(proxy, url, headers, proxyHeaders, signal);
  }

  close(): void {
    for (const response of this.#direct) response.destroy();
    this.#http.destroy();
  }

  #send(
    url: URL,
    options: { headers: OutgoingHttpHeaders; path?: string; agent?: HttpAgent; createConnection?: () => Socket },
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const https = url.protocol === 'https:';
      const request = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'GET',
          headers: options.headers,
          // Not the credentials of `url` (the proxy's, for plain HTTP through a proxy): Node
          // would send them as Authorization, which the proxy passes on to the image server.
          // The image's own credentials are in `headers`.
          auth: null,
          ...(options.path ? { path: options.path } : {}),
          ...(options.createConnection
            ? { createConnection: options.createConnection, agent: false }
            : { agent: options.agent ?? this.#http }),
          ...(https ? this.#options.tls : {}),
          ...(signal ? { signal } : {}),
        },
        (response) => {
          // From here on the stall limit is the body's: no data for that long ends it.
          response.setTimeout?.(this.#options.stallMs, () =>
            response.destroy(new Error(`no data for ${this.#options.stallMs / 1000} s`)),
          );
          // The request's signal does not reach a body already streaming: an abort (agent
          // shutdown, image_download_max_duration) must end it too.
          if (signal) {
            const abort = () => response.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
            signal.addEventListener('abort', abort, { once: true });
            response.once('close', () => signal.removeEventListener('abort', abort));
          }
          resolve(response);
        },
      );
      request.setTimeout(this.#options.stallMs, () =>
        request.destroy(new Error(`no answer for ${this.#options.stallMs / 1000} s`)),
      );
      request.on('error', reject);
      request.end();
    });
  }

  #tunnel(
    proxy: URL,
    url: URL,
    headers: OutgoingHttpHeaders,
    proxyHeaders: OutgoingHttpHeaders,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const port = url.port || '443';
      const connect = httpRequest(proxy, {
        method: 'CONNECT',
        path: `${url.hostname}:${port}`,
        auth: null, // the proxy's credentials go as Proxy-Authorization only
        headers: { ...proxyHeaders, host: `${url.hostname}:${port}` },
        agent: false,
        ...(signal ? { signal } : {}),
      });
      connect.setTimeout(this.#options.stallMs, () =>
        connect.destroy(new Error(`proxy gave no answer for ${this.#options.stallMs / 1000} s`)),
      );
      connect.on('error', reject);
      connect.on('connect', (response, socket) => {
        if (response.statusCode !== 200) {
          socket.destroy();
          reject(new Error(`proxy ${proxy.host} refused CONNECT ${url.hostname}:${port}: ${response.statusCode}`));
          return;
        }
        // `host` is what the certificate is checked against; SNI carries names only (RFC 6066).
        const host = url.hostname.replace(/^\[|\]$/g, '');
        const secure = tlsConnect({ socket, host, ...(isIP(host) ? {} : { servername: host }), ...this.#options.tls });
        secure.once('error', reject);
        this.#send(url, { headers, createConnection: () => secure }, signal).then((response) => {
          // The tunnel serves this one response: close it with the body.
          response.once('close', () => secure.destroy());
          resolve(response);
        }, reject);
      });
      connect.end();
    });
  }

  /** requests' rules: the scheme's proxy unless a no_proxy entry matches the host. */
  #proxyFor(url: URL): URL | undefined {
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const configured =
      this.#options.proxies[scheme] ?? (this.#options.proxies.http || this.#options.proxies.https ? undefined : envProxy(scheme));
    if (!configured) return undefined;
    const noProxy = this.#options.noProxy ?? process.env.no_proxy ?? process.env.NO_PROXY ?? '';
    if (bypassesProxy(url, noProxy)) return undefined;
    return new URL(/^[a-z]+:\/\//i.test(configured) ? configured : `http://${configured}`);
  }
}

function envProxy(scheme: 'http' | 'https'): string | undefined {
  return scheme === 'https'
    ? (process.env.https_proxy ?? process.env.HTTPS_PROXY)
    : (process.env.http_proxy ?? process.env.HTTP_PROXY);
}

/** `no_proxy`: comma-separated hosts, domain suffixes (`.example.com` or `example.com`), `host:port`, or `*`. */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const bareIpv6 = !entry.startsWith('[') && (entry.match(/:/g)?.length ?? 0) > 1;
    const [entryHost, entryPort] = entry.startsWith('[')
      ? [entry.slice(1, entry.indexOf(']')), entry.split(']:')[1]]
      : bareIpv6
        ? [entry, undefined]
        : entry.split(':');
    if (entryPort && entryPort !== port) continue;
    const suffix = entryHost!.replace(/^\*?\./, '');
    if (host === suffix || host.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

function proxyAuthorization(proxy: URL): OutgoingHttpHeaders {
  if (!proxy.username) return {};
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(pair).toString('base64')}` };
}
