/**
 * A real HTTP image server on 127.0.0.1 for image-writing tests and the image bench:
 * serves files or buffers with Content-Length, ETag, Range/If-Range (206) and HEAD, and
 * can misbehave on purpose: cut the connection after N bytes (a truncated or aborted
 * download), fail the first requests with a status, ignore Range, demand credentials.
 * Every request is recorded so tests can assert resumes and headers.
 *
 * Run directly (`node --import tsx test/helpers/image-server.ts [--tls KEY CERT] FILE...`) it
 * serves the given files as /<basename> and prints `{"port": N}` on stdout (the bench uses that).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export interface ServeOptions {
  /** Close the connection after this many body bytes of a response. */
  truncateAfter?: number;
  /** How many responses are cut (default: all). */
  truncateTimes?: number;
  /** Answer the first `count` requests with `status` instead of the image. */
  failFirst?: { count: number; status: number };
  /** Always answer 200 with the whole body, as servers without range support do. */
  ignoreRange?: boolean;
  /** Require exactly this Authorization header (401 otherwise). */
  authorization?: string;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  /** Throttle the body to about this rate (progress tests). */
  bytesPerSecond?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  authorization: string | undefined;
  status: number;
}

interface Route {
  size: number;
  etag: string;
  open(start: number, end: number): Readable;
  options: ServeOptions;
  served: number;
  truncated: number;
}

export class ImageServer {
  readonly requests: RecordedRequest[] = [];
  readonly #routes = new Map<string, Route>();
  readonly #redirects = new Map<string, { location: string; status: number }>();
  readonly #server: Server;
  #port = 0;
  readonly #scheme: 'http' | 'https';

  private constructor(tls?: { key: Buffer | string; cert: Buffer | string }) {
    this.#scheme = tls ? 'https' : 'http';
    this.#server = tls
      ? createTlsServer(tls, (req, res) => this.#handle(req, res))
      : createServer((req, res) => this.#handle(req, res));
    // Keep-alive sockets must not hold close() up.
    this.#server.keepAliveTimeout = 1000;
  }

  /** With `tls`, an HTTPS server (key and certificate in PEM). */
  static async start(tls?: { key: Buffer | string; cert: Buffer | string }): Promise<ImageServer> {
    const server = new ImageServer(tls);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    server.#port = (server.#server.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  url(name: string): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}/${name}`;
  }

  serveFile(name: string, path: string, options: ServeOptions = {}): string {
    const info = statSync(path);
    this.#routes.set(`/${name}`, {
      size: info.size,
      etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
      open: (start, end) => createReadStream(path, { start, end, highWaterMark: 1024 * 1024 }),
      options,
      served: 0,
      truncated: 0,
    });
    return this.url(name);
  }

  serveBuffer(name: string, data: Buffer | string, options: ServeOptions = {}): string {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.#routes.set(`/${name}`, {
      size: bytes.length,
      etag: `"buf-${bytes.length.toString(16)}-${this.#routes.size}"`,
      open: (start, end) => Readable.from([bytes.subarray(start, end + 1)]),
      options,
      served: 0,
      truncated: 0,
    });
    return this.url(name);
  }

  /** Answer `name` with a redirect to `location` (another served name or any URL). */
  serveRedirect(name: string, location: string, status = 302): string {
    this.#redirects.set(`/${name}`, { location, status });
    return this.url(name);
  }

  /** Change how an already served name misbehaves. */
  setOptions(name: string, options: ServeOptions): void {
    const route = this.#routes.get(`/${name}`);
    if (!route) throw new Error(`nothing served as ${name}`);
    route.options = options;
    route.served = 0;
    route.truncated = 0;
  }

  requestsFor(name: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === `/${name}`);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      authorization: req.headers.authorization,
      status: 0,
    };
    this.requests.push(record);
    const answer = (status: number, body = '') => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const redirect = this.#redirects.get(path);
    if (redirect) {
      record.status = redirect.status;
      res.writeHead(redirect.status, { location: redirect.location, 'content-length': 0 });
      return void res.end();
    }
    const route = this.#routes.get(path);
    if (!route) return answer(404, 'not found');
    const { options } = route;
    route.served++;
    if (options.authorization !== undefined && req.headers.authorization !== options.authorization)
      return answer(401, 'unauthorized');
    if (options.failFirst && route.served <= options.failFirst.count)
      return answer(options.failFirst.status, 'failing on purpose');

    let start = 0;
    let end = route.size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && !options.ignoreRange && (ifRange === undefined || ifRange === route.etag)) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start >= route.size) {
        record.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${route.size}`, 'content-length': 0 });
        return void res.end();
      }
      status = 206;
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': options.ignoreRange ? 'none' : 'bytes',
      etag: route.etag,
    };
    if (!options.chunked) headers['content-length'] = end - start + 1;
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${route.size}`;
    record.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();

    const cut = options.truncateAfter !== undefined && route.truncated < (options.truncateTimes ?? Infinity);
    if (cut) route.truncated++;
    const body = route.open(start, end);
    const startedAt = performance.now();
    let sent = 0;
    body.on('data', (chunk: Buffer) => {
      if (cut && sent + chunk.length >= options.truncateAfter!) {
        const keep = Math.max(0, options.truncateAfter! - sent);
        body.destroy();
        res.write(chunk.subarray(0, keep), () => res.socket?.destroy());
        sent += keep;
        return;
      }
      sent += chunk.length;
      const ahead = options.bytesPerSecond ? (sent / options.bytesPerSecond) * 1000 - (performance.now() - startedAt) : 0;
      const writable = res.write(chunk);
      if (!writable || ahead > 0) {
        body.pause();
        let waits = (writable ? 0 : 1) + (ahead > 0 ? 1 : 0);
        const resume = () => {
          if (--waits === 0) body.resume();
        };
        if (!writable) res.once('drain', resume);
        if (ahead > 0) setTimeout(resume, ahead);
      }
    });
    body.on('end', () => res.end());
    body.on('error', () => res.socket?.destroy());
    res.on('close', () => body.destroy());
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--tls KEY CERT FILE...` serves over HTTPS.
  const args = process.argv.slice(2);
  const tls = args[0] === '--tls' ? { key: readFileSync(args[1]!), cert: readFileSync(args[2]!) } : undefined;
  const server = await ImageServer.start(tls);
  for (const file of args.slice(tls ? 3 : 0)) server.serveFile(basename(file), file);
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
