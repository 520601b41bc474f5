/**
 * A minimal forward proxy on 127.0.0.1 for download tests: plain-HTTP requests with an
 * absolute URL are forwarded, CONNECT is tunnelled (HTTPS through a proxy). Every request
 * line it sees is recorded.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export class HttpProxy {
  readonly seen: string[] = [];
  readonly #server: Server;
  /** Tunnelled sockets are no longer HTTP connections: close() must end them itself. */
  readonly #tunnels = new Set<Socket>();

  private constructor() {
    this.#server = createServer((req, res) => {
      this.seen.push(`${req.method} ${req.url}`);
      const upstream = httpRequest(req.url!, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    this.#server.on('connect', (req, socket, head) => {
      this.seen.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      this.#tunnels.add(socket as Socket);
      socket.on('close', () => this.#tunnels.delete(socket as Socket));
      const upstream = connect(Number(port), host!, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
  }

  static async start(): Promise<HttpProxy> {
    const proxy = new HttpProxy();
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    for (const socket of this.#tunnels) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
