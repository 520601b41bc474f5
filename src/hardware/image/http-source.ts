/**
 * HTTP(S) access to an image server with IPA's semantics (reference §14.4): the
 * `Authorization` header Ironic hands over (or HTTP basic credentials), the proxies and
 * `no_proxy` of `image_info`, the agent's CA bundle / client certificate / insecure flag,
 * redirects followed (credentials not carried to another origin), and a stall timeout
 * for connecting, headers and body alike.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HardwareSettings } from '../settings.js';
import { HttpTransport, type HttpResponse } from './http-transport.js';
import type { ImageInfo } from './image-info.js';

export interface OpenedBody {
  /** 200, or 206 when the server honoured the range. */
  status: number;
  /** First byte of the image this body starts at. */
  offset: number;
  /** Size of the whole image when the server said (Content-Length / Content-Range). */
  totalBytes: number | undefined;
  /** Strong validator to resume against the same entity (ETag, else Last-Modified). */
  validator: string | undefined;
  body: Readable;
}

/** A failure that another attempt may cure (network, 5xx, stall, truncation). */
export class TransientDownloadError extends Error {
  override name = 'TransientDownloadError';
}

/** A failure retrying cannot cure (4xx). */
export class FatalDownloadError extends Error {
  override name = 'FatalDownloadError';
}

const MAX_REDIRECTIONS = 5;

export class ImageHttpClient {
  readonly #transport: HttpTransport;
  readonly #headers: Record<string, string>;

  constructor(info: ImageInfo, settings: HardwareSettings) {
    const proxies = info.proxies ?? {};
    this.#transport = new HttpTransport({
      tls: {
        rejectUnauthorized: !settings.insecure,
        ...(settings.cafile ? { ca: readFileSync(settings.cafile) } : {}),
        ...(settings.certfile ? { cert: readFileSync(settings.certfile) } : {}),
        ...(settings.keyfile ? { key: readFileSync(settings.keyfile) } : {}),
      },
      // image_info's proxies win over the environment, as requests' `proxies=` does.
      proxies: { http: proxies.http, https: proxies.https },
      noProxy: info.no_proxy ?? undefined,
      stallMs: Math.max(1, settings.imageDownloadConnectionTimeout) * 1000,
    });
    this.#headers = authorizationHeaders(info);
  }

  /**
   * GET `url` from `offset` on, following redirects. With `validator`, the server must
   * still serve the same entity (If-Range); otherwise it answers 200 and the caller
   * starts over.
   */
  async open(
    url: string,
    options: { offset?: number; validator?: string | undefined; signal?: AbortSignal } = {},
  ): Promise<OpenedBody> {
    const offset = options.offset ?? 0;
    const headers: Record<string, string> = { ...this.#headers, 'accept-encoding': 'identity' };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      if (options.validator) headers['if-range'] = options.validator;
    }
    let target = new URL(url);
    let response: HttpResponse;
    for (let hops = 0; ; hops++) {
      // Credentials in the URL (http://user:pass@host/...) are sent as HTTP basic unless
      // image_info gave an Authorization of its own, as requests does; a URL's credentials
      // go only to its own server.
      if (!headers.authorization && (target.username || target.password)) headers.authorization = basicAuthorization(target);
      try {
        response = await this.#transport.get(target, headers, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        throw new TransientDownloadError(`Connection to ${redact(target.href)} failed: ${describe(error)}`, { cause: error });
      }
      const location = response.headers.location;
      if (!location || ![301, 302, 303, 307, 308].includes(response.statusCode ?? 0)) break;
      response.resume();
      if (hops >= MAX_REDIRECTIONS) throw new FatalDownloadError(`More than ${MAX_REDIRECTIONS} redirects from ${redact(url)}`);
      const next = new URL(location, target);
      // Credentials meant for the image server stay with it.
      if (next.origin !== target.origin) delete headers.authorization;
      target = next;
    }
    const statusCode = response.statusCode ?? 0;
    const h = response.headers;
    if (statusCode === 200 || (statusCode === 206 && offset > 0)) {
      let start = 0;
      let total = numberHeader(h['content-length']);
      if (statusCode === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(h['content-range'] ?? ''));
        start = range ? Number(range[1]) : -1;
        total = range && range[3] !== '*' ? Number(range[3]) : undefined;
        if (start !== offset) {
          response.destroy();
          throw new TransientDownloadError(`${redact(target.href)} answered a range starting at ${start}, asked for ${offset}`);
        }
      }
      const etag = stringHeader(h.etag);
      const validator = etag && !etag.startsWith('W/') ? etag : stringHeader(h['last-modified']);
      return { status: statusCode, offset: start, totalBytes: total, validator, body: response };
    }
    const text = await readSome(response, 200);
    const message = `Received status code ${statusCode} from ${redact(target.href)}, expected 200. Response body: ${text.trim()}`;
    if (statusCode >= 400 && statusCode < 500 && statusCode !== 408 && statusCode !== 429 && statusCode !== 416) {
      throw new FatalDownloadError(message);
    }
    throw new TransientDownloadError(message);
  }

  /** The first `bytes` of the image and its size, without downloading the rest. */
  async probe(url: string, bytes: number, signal?: AbortSignal): Promise<{ head: Buffer; totalBytes: number | undefined }> {
    const opened = await this.open(url, signal ? { signal } : {});
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of opened.body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= bytes) break;
      }
    } finally {
      opened.body.destroy();
    }
    return { head: Buffer.concat(chunks).subarray(0, bytes), totalBytes: opened.totalBytes };
  }

  /** A small resource (checksum file, config drive), read whole; refused beyond `limitBytes`. */
  async fetchBytes(url: string, limitBytes: number, signal?: AbortSignal): Promise<Buffer> {
    const opened = await this.open(url, signal ? { signal } : {});
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of opened.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) {
        opened.body.destroy();
        throw new FatalDownloadError(`${redact(url)} is larger than ${limitBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /** A checksum file: a few KiB of text (16 MiB at most). */
  async fetchText(url: string, signal?: AbortSignal): Promise<string> {
    return (await this.fetchBytes(url, 16 * 1024 * 1024, signal)).toString('utf8');
  }

  async close(): Promise<void> {
    this.#transport.close();
  }
}

function authorizationHeaders(info: ImageInfo): Record<string, string> {
  if (info.image_request_authorization) {
    // Ironic base64-encodes the whole header value (e.g. "Bearer ..."), IPA decodes and sends it verbatim.
    return { authorization: Buffer.from(info.image_request_authorization, 'base64').toString('utf8') };
  }
  if (info.image_server_auth_strategy === 'http_basic' && info.image_server_user) {
    const pair = `${info.image_server_user}:${info.image_server_password ?? ''}`;
    return { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
  }
  return {};
}

function basicAuthorization(url: URL): string {
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}

async function readSome(body: Readable, limit: number): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length >= limit) break;
    }
  } catch {
    // the error body is only decoration
  } finally {
    body.destroy();
  }
  return text.slice(0, limit);
}

function numberHeader(value: IncomingHttpHeaders[string]): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function stringHeader(value: IncomingHttpHeaders[string]): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** URLs may carry credentials (`https://user:pass@host/...`): never log or report them. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '***';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return url;
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
