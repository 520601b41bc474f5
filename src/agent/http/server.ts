/**
 * The fastify instance behind the agent API: IPA's error body for every failure, JSON
 * bodies parsed whatever their Content-Type (as IPA's `get_json(force=True)`), and one log
 * line per request in IPA's format with the token redacted.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Faults, renderFault } from './fault.js';

/** Config drives (gzip+base64, up to 64 MiB raw) travel inside command params. */
const BODY_LIMIT_BYTES = 128 * 1024 * 1024;

export interface HttpServerOptions {
  logLevel: string;
  /** A pino destination or options; tests pass a silent level. */
  logger?: FastifyServerOptions['logger'];
  https?: { key: string | Buffer; cert: string | Buffer; minVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string } | undefined;
  /** A pino logger built by the caller (the agent builds it before it knows about TLS). */
  loggerInstance?: FastifyBaseLogger | undefined;
}

/** Never log the agent token, wherever it appears in a log object. */
export const LOG_REDACTION = {
  paths: ['agent_token', 'params.agent_token', 'config.agent_token', '*.agent_token'],
  censor: '***',
};

function redactToken(url: string): string {
  return url.replace(/([?&]agent_token=)[^&]*/g, '$1***');
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
  const app = Fastify({
    schemaController: NO_JSON_SCHEMAS,
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? { level: options.logLevel, redact: LOG_REDACTION } }),
    // One IPA-format line per request (onResponse below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests log through the agent's logger itself: IPA's request line carries no request
    // id, and a pino child per request (bindings serialised through the redaction) was ~4 KB
    // of garbage and the largest CPU item of a status request after the socket write.
    childLoggerFactory: (logger: FastifyBaseLogger) => logger,
    bodyLimit: BODY_LIMIT_BYTES,
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(Faults.undecodableJson((error as Error).message), undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = renderFault(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.code(status).type('application/json').send(JSON.stringify(body));
  });

  app.addHook('onResponse', (request, reply, done) => {
    // IPA's request log: "<ip> - <METHOD> <path?query> - <status> (<ms>ms)".
    const ms = reply.elapsedTime.toFixed(1);
    request.log.info(`${request.ip} - ${request.method} ${redactToken(request.url)} - ${reply.statusCode} (${ms}ms)`);
    done();
  });

  return app;
}
