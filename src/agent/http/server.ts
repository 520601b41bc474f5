/**
 * The fastify instance behind the agent API: IPA's error body for every failure, JSON
 * bodies read only where a route takes one (request-body.ts), timeouts on slow or stalled
 * clients, and one log line per request in IPA's format with the token redacted.
 */
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AuthFailureLimiter } from './auth-failures.js';
import { Faults, renderFault } from './fault.js';
import { COMMAND_BODY_LIMIT_BYTES, installBodyParser } from './request-body.js';
import { LOG_SERIALIZERS } from '../../shared/log-serializers.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Wrong-token accounting shared by the token checks and the request log. */
    authFailures: AuthFailureLimiter;
  }
}

/**
 * A client gets this long for its request headers, and for the whole request including the
 * body. Node's defaults keep a partial body forever (requestTimeout 0 in fastify) and
 * partial headers for a minute or more. The longest honest upload is a config drive (≤ 86 MiB)
 * from a conductor that itself gives up after 60 s (Ironic's [agent]command_timeout).
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 90_000;
/** How often Node looks for connections past those timeouts (default 30 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export interface HttpServerOptions {
  logLevel: string;
  /** A pino destination or options; tests pass a silent level. */
  logger?: FastifyServerOptions['logger'];
  https?: { key: string | Buffer; cert: string | Buffer; minVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string } | undefined;
  /** A pino logger built by the caller (the agent builds it before it knows about TLS). */
  loggerInstance?: FastifyBaseLogger | undefined;
  /** Tests shorten the client timeouts. */
  timeouts?: { headersMs: number; requestMs: number; checkIntervalMs: number } | undefined;
}

/** Never log the agent token, wherever it appears in a log object. */
export const LOG_REDACTION = {
  paths: ['agent_token', 'params.agent_token', 'config.agent_token', '*.agent_token'],
  censor: '***',
};

/**
 * The URL with the value of every query parameter whose decoded name is `agent_token`
 * replaced: the query parser decodes `agent%5Ftoken=` (or any other percent-encoding of the
 * name) to the token, so the log must treat it the same.
 */
const TOKEN_OR_ESCAPE = /token|%/i;

function redactToken(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  // Without a percent-encoding, a name that decodes to agent_token contains "token" as typed:
  // the conductor's `?wait=true` polls skip the split and join below.
  if (!TOKEN_OR_ESCAPE.test(url.slice(question + 1))) return url;
  const query = url
    .slice(question + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals < 0 ? pair : pair.slice(0, equals);
      let name: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        name = rawName;
      }
      return name.trim().toLowerCase() === 'agent_token' && equals >= 0 ? `${rawName}=***` : pair;
    })
    .join('&');
  return `${url.slice(0, question)}?${query}`;
}

/** IPA answers CONNECT like any other method it has no route for; Node would drop the socket. */
function answerConnect(socket: Socket): void {
  const body = JSON.stringify({ faultcode: 'Client', faultstring: Faults.methodNotAllowed().message });
  socket.end(
    `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/**
 * The agent's routes carry no JSON schemas (command params are validated with zod), so fastify
 * gets compilers that refuse a schema instead of its default ajv and fast-json-stringify:
 * evaluating those two cost a sixth of the agent's start-up (bench/api) for nothing.
 */
const NO_JSON_SCHEMAS = {
  compilersFactory: {
    buildValidator: () => () => {
      throw new Error('agent routes take no JSON schema: validate with zod in the command definition');
    },
    buildSerializer: () => () => {
      throw new Error('agent routes take no response schema: replies are serialised by the route');
    },
  },
};

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const timeouts = options.timeouts ?? {
    headersMs: HEADERS_TIMEOUT_MS,
    requestMs: REQUEST_TIMEOUT_MS,
    checkIntervalMs: TIMEOUT_CHECK_INTERVAL_MS,
  };
  const serverTimeouts = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    connectionsCheckingInterval: timeouts.checkIntervalMs,
  };
  const app = Fastify({
    schemaController: NO_JSON_SCHEMAS,
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? { level: options.logLevel, redact: LOG_REDACTION, serializers: LOG_SERIALIZERS } }),
    // One IPA-format line per request (onResponse below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is the agent's logger itself, not a child per request carrying a reqId:
    // pino serialises a child's bindings when it is made (~1 KB and 2% of the CPU of every
    // request), and the request line already names the request as IPA's does.
    childLoggerFactory: (logger: FastifyBaseLogger) => logger,
    bodyLimit: COMMAND_BODY_LIMIT_BYTES,
    requestTimeout: timeouts.requestMs,
    // Passed to http.createServer by fastify (not in its types).
    http: serverTimeouts,
    ...(options.https ? { https: { ...options.https, ...serverTimeouts } } : {}),
  } as unknown as FastifyServerOptions) as unknown as FastifyInstance;

  installBodyParser(app);
  app.decorate('authFailures', new AuthFailureLimiter());
  app.server.on('connect', (_request, socket: Socket) => answerConnect(socket));

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = renderFault(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.code(status).type('application/json').send(JSON.stringify(body));
  });

  app.addHook('onResponse', (request, reply, done) => {
    // IPA's request log: "<ip> - <METHOD> <path?query> - <status> (<ms>ms)".
    const ms = reply.elapsedTime.toFixed(1);
    const line = `${request.ip} - ${request.method} ${redactToken(request.url)} - ${reply.statusCode} (${ms}ms)`;
    if (reply.statusCode === 401 || reply.statusCode === 429) {
      const { log, suppressed } = app.authFailures.mayLog();
      if (suppressed > 0) request.log.warn({ suppressed }, 'request lines of refused requests (wrong token) left out');
      if (log) request.log.info(line);
    } else {
      request.log.info(line);
    }
    done();
  });

  return app;
}
