/**
 * The host side the guest may reach (through guestfwd, nothing else): a file server for the
 * ramdisk and the disk images, a reverse proxy in front of the conductor's API that notes
 * when the agent first looked up and heartbeated, and a forward proxy the agent downloads
 * images through (image URLs name 127.0.0.1, which the conductor can check from the host
 * and the guest can only reach through the proxy; it forwards to that one server only).
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening & { server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET/HEAD with byte ranges for the files directly in `dir`. */
export async function serveDirectory(dir: string): Promise<Listening> {
  return listen((req, res) => {
    const name = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    let size: number;
    try {
      if (name.includes('/') || !name) throw new Error('not a file here');
      size = statSync(join(dir, name)).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(Math.max(0, end - start + 1)),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) res.end();
    else createReadStream(join(dir, name), { start, end }).pipe(res);
  });
}

function forward(req: IncomingMessage, res: ServerResponse, target: URL): void {
  const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

/** The agent's calls to the conductor, timed (epoch ms of every lookup and heartbeat). */
export class ApiWatch {
  readonly lookupsAt: number[] = [];
  readonly heartbeatsAt: number[] = [];

  private constructor(readonly listening: Listening) {}

  static async start(upstream: () => string): Promise<ApiWatch> {
    let watch: ApiWatch | undefined;
    const listening = await listen((req, res) => {
      const path = req.url ?? '/';
      if (req.method === 'GET' && path.startsWith('/v1/lookup')) watch!.lookupsAt.push(Date.now());
      if (req.method === 'POST' && path.startsWith('/v1/heartbeat/')) watch!.heartbeatsAt.push(Date.now());
      forward(req, res, new URL(path, upstream()));
    });
    watch = new ApiWatch(listening);
    return watch;
  }
}

/** A forward proxy for absolute `http://127.0.0.1:<port>/…` URLs to one port; anything else 403. */
export async function imageProxy(allowedPort: number): Promise<Listening> {
  return listen((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1' || Number(target.port) !== allowedPort) {
      res.writeHead(403).end();
      return;
    }
    forward(req, res, target);
  });
}
