/**
 * The agent API's HTTP server, on node:http directly: IPA's error body for every failure,
 * JSON bodies read only where a route takes one (request-body.ts), timeouts on slow or
 * stalled clients, and one log line per request in IPA's format with the token redacted.
 *
 * Not fastify (the conductor's API still is): for a dozen fixed routes its router, hooks,
 * schema compilers and logger integration cost the agent ~80 ms of CPU at start-up (bench/
 * startup: a one-route fastify server 140 ms, node:http alone 60, on this 2-core host) and
 * ~3 KB and a promise chain per request, which every conductor poll pays for.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../shared/logger.js';
import { silentLogger } from '../../shared/logger.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { connectionLimit } from './connection-limit.js';
import { Faults, HttpFault, renderFault } from './fault.js';
import { cutOffUnreadBody, readJsonBody } from './request-body.js';
import { requestLine } from './request-log.js';
import { AgentRequest, Router, splitTarget, type Reply, type RouteDefinition } from './router.js';

/**
 * A client gets this long for its request headers, and for the whole request including the
 * body. Node's defaults keep partial headers for a minute or more. The longest honest upload
 * is a config drive (≤ 86 MiB) from a conductor that itself gives up after 60 s (Ironic's
 * [agent]command_timeout).
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 90_000;
/** How often Node looks for connections past those timeouts (default 30 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** An idle keep-alive connection is kept this long (fastify's default, which the agent had). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

interface HttpsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

export interface HttpServerOptions {
  /** The agent's logger; nothing is logged without one. */
  log?: (Logger & { isLevelEnabled?: (level: string) => boolean }) | undefined;
  https?: HttpsOptions | undefined;
  /** Tests shorten the client timeouts. */
  timeouts?: { headersMs: number; requestMs: number; checkIntervalMs: number } | undefined;
}

const JSON_TYPE = 'application/json';

/** An answer written straight to a socket Node gave up parsing (no response object exists). */
function writeRawFault(socket: Duplex, fault: HttpFault): void {
  const { status, body } = renderFault(fault);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: ${JSON_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** The fault for a request Node could not parse or that ran out of time. */
function clientFault(error: NodeJS.ErrnoException): HttpFault {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return Faults.requestTimeout();
  if (error.code === 'HPE_HEADER_OVERFLOW') return Faults.headersTooLarge();
  return Faults.unreadableRequest();
}

export class AgentHttpServer {
  readonly server: Server;
  readonly router = new Router();
  /** Wrong-token accounting shared by the token checks and the request log. */
  readonly authFailures = new AuthFailureLimiter();
  readonly log: NonNullable<HttpServerOptions['log']>;
  #closing = false;
  /** Lets go of the requests waiting on a long poll (close() answers them at once). */
  readonly #releases = new Set<() => void>();
  #dropped = 0;
  #droppedLoggedAt = 0;

  constructor(options: HttpServerOptions = {}) {
    this.log = options.log ?? silentLogger;
    const timeouts = options.timeouts ?? {
      headersMs: HEADERS_TIMEOUT_MS,
      requestMs: REQUEST_TIMEOUT_MS,
      checkIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
    };
    const serverOptions = {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    };
    const handle = (raw: IncomingMessage, response: ServerResponse) => this.#handle(raw, response);
    // node:https (and TLS with it) is loaded only for an agent that serves HTTPS.
    this.server = options.https
      ? (createRequire(import.meta.url)('node:https') as typeof import('node:https')).createServer(
          { ...options.https, ...serverOptions },
          handle,
        )
      : createServer(serverOptions, handle);
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.maxConnections = connectionLimit();
    this.server.on('drop', () => this.#connectionDropped());
    // `Expect: 100-continue`: the body is invited only once the route would read it and its
    // guard (the token) passed; Node's default invites every body before any check.
    this.server.on('checkContinue', (raw: IncomingMessage, response: ServerResponse) => this.#handle(raw, response, true));
    // IPA answers CONNECT like any other method it has no route for; Node would drop the socket.
    this.server.on('connect', (_request: IncomingMessage, socket: Socket) => writeRawFault(socket, Faults.methodNotAllowed()));
    // Node's own answer to an unparseable or timed-out request has no body: IPA's shape instead.
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // A response already under way on this socket (Node's own handler checks the same).
      const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
      if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      writeRawFault(socket, clientFault(error));
    });
  }

  route(definition: RouteDefinition): void {
    this.router.add(definition);
  }

  listen(address: { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(address.port, address.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops accepting connections, closes idle ones and waits for answers under way. */
  close(): Promise<void> {
    this.#closing = true;
    // A long poll on a command that runs for hours would otherwise keep close() waiting.
    for (const release of [...this.#releases]) release();
    if (!this.server.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    return closed;
  }

  #handle(raw: IncomingMessage, response: ServerResponse, expectsContinue = false): void {
    // hrtime, not performance.now(): the first call of that loads perf_hooks (~0.7 ms of start-up).
    const started = process.hrtime.bigint();
    const { path, search } = splitTarget(raw.url ?? '/');
    const match = this.router.match(raw.method ?? 'GET', path);
    const request = new AgentRequest(raw, path, search, match.kind === 'route' ? match.params : {}, () =>
      this.#released(response),
    );
    response.once('finish', () =>
      this.#logRequest(request, response.statusCode, Number(process.hrtime.bigint() - started) / 1e6),
    );
    try {
      if (match.kind !== 'route') {
        throw match.kind === 'method-not-allowed' ? Faults.methodNotAllowed() : Faults.notFound();
      }
      const { route } = match;
      route.guard?.(request);
      if (route.readsBody) {
        if (expectsContinue) response.writeContinue();
        readJsonBody(raw).then(
          (body) => {
            request.body = body;
            this.#run(route, request, response);
          },
          (error: unknown) => this.#fail(request, response, error),
        );
        return;
      }
      this.#run(route, request, response);
    } catch (error) {
      this.#fail(request, response, error);
    }
  }

  #run(route: RouteDefinition, request: AgentRequest, response: ServerResponse): void {
    let reply: Reply | Promise<Reply>;
    try {
      reply = route.handler(request);
    } catch (error) {
      this.#fail(request, response, error);
      return;
    }
    if (reply instanceof Promise) {
      reply.then(
        (done) => this.#send(request, response, done),
        (error: unknown) => this.#fail(request, response, error),
      );
    } else {
      this.#send(request, response, reply);
    }
  }

  /** Settles when the response's connection closes (the client left) or the server closes. */
  #released(response: ServerResponse): Promise<void> {
    return new Promise<void>((resolve) => {
      const release = () => {
        this.#releases.delete(release);
        response.off('close', release);
        resolve();
      };
      if (this.#closing || response.destroyed) return release();
      this.#releases.add(release);
      response.once('close', release);
    });
  }

  #fail(request: AgentRequest, response: ServerResponse, error: unknown): void {
    const { status, body } = renderFault(error);
    if (status >= 500) this.log.error({ err: error }, 'request failed');
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const headers = error instanceof HttpFault ? error.headers : undefined;
    this.#send(request, response, { status, body: JSON.stringify(body), headers });
  }

  #send(request: AgentRequest, response: ServerResponse, reply: Reply): void {
    response.statusCode = reply.status;
    if (reply.headers) for (const name in reply.headers) response.setHeader(name, reply.headers[name]!);
    cutOffUnreadBody(request.raw);
    if (this.#closing) response.setHeader('connection', 'close');
    const body = reply.body ?? '';
    if (reply.body !== undefined) response.setHeader('content-type', JSON_TYPE);
    // Set by hand so a HEAD answer carries the length its GET would have.
    response.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    response.end(body);
  }

  /** A connection closed on arrival (at maxConnections): counted, logged at most every 10 s. */
  #connectionDropped(): void {
    this.#dropped++;
    const now = Date.now();
    if (now - this.#droppedLoggedAt < 10_000) return;
    this.log.warn(
      { dropped: this.#dropped, maxConnections: this.server.maxConnections },
      'connections closed on arrival: the API already holds as many as it serves at once',
    );
    this.#dropped = 0;
    this.#droppedLoggedAt = now;
  }

  #logRequest(request: AgentRequest, status: number, elapsedMs: number): void {
    if (this.log.isLevelEnabled && !this.log.isLevelEnabled('info')) return;
    const line = () => requestLine(request.ip, request.method, request.url, status, elapsedMs);
    if (status === 401 || status === 429) {
      const { log, suppressed } = this.authFailures.mayLog();
      if (suppressed > 0) this.log.warn({ suppressed }, 'request lines of refused requests (wrong token) left out');
      if (log) this.log.info(line());
    } else {
      this.log.info(line());
    }
  }
}

export function createHttpServer(options: HttpServerOptions = {}): AgentHttpServer {
  return new AgentHttpServer(options);
}
