/**
 * IPA's REST API (reference §2): `/`, `/v1/`, status, and the command routes under both
 * `/v1/commands/` and the unversioned `/commands/` alias.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CommandResult } from '../command-result.js';
import type { CommandRunner } from '../command-runner.js';
import { Faults } from './fault.js';
import { parseCommandQuery, wantsWait } from './query.js';
import type { BodyRouteConfig } from './request-body.js';
import type { TokenGate } from './token-gate.js';

export interface AgentRoutesOptions {
  runner: CommandRunner;
  tokenGate: TokenGate;
  version: string;
  startedAt: () => number | null;
}

type Query = Record<string, string | undefined>;

const DESCRIBED_BY = { href: 'https://docs.openstack.org/ironic-python-agent/', rel: 'describedby', type: 'text/html' };

function rootUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

function v1Document(root: string) {
  return { id: 'v1', links: [{ href: `${root}/v1`, rel: 'self' }, DESCRIBED_BY] };
}

function sendJson(reply: FastifyReply, payload: unknown, status = 200): FastifyReply {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  return reply.code(status).type('application/json').send(body);
}

/** werkzeug's strict-slash redirect, keeping the query string. */
function redirectWithSlash(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const [path, query] = request.url.split('?', 2) as [string, string | undefined];
  return reply
    .code(308)
    .header('location', `${rootUrl(request)}${path}/${query ? `?${query}` : ''}`)
    .send();
}

export function registerAgentRoutes(app: FastifyInstance, options: AgentRoutesOptions): void {
  const { runner, tokenGate } = options;
  const knownPaths: RegExp[] = [];
  // The token is checked in onRequest, before the body is read or parsed (IPA LP#2160196),
  // then the query (a repeated parameter is a 400 before anything runs).
  const refuse = (request: FastifyRequest, reply: FastifyReply) => {
    const fault = app.authFailures.refuse(request.ip);
    if (fault.statusCode === 429) void reply.header('retry-after', '1').header('connection', 'close');
    return fault;
  };
  // Callback hooks rather than async ones: no promise and microtask hop per request.
  const checked = (request: FastifyRequest, accepted: boolean, reply: FastifyReply, done: (error?: Error) => void) => {
    try {
      if (!accepted) throw refuse(request, reply);
      parseCommandQuery(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
  const requireToken = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) =>
    checked(request, tokenGate.accepts((request.query as Query).agent_token), reply, done);
  // Reads of command results: open to a conductor that never sends the token (token-gate.ts).
  const requireReadToken = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) =>
    checked(request, tokenGate.acceptsRead((request.query as Query).agent_token), reply, done);
  const route = (
    method: 'GET' | 'POST',
    path: string,
    handler: (req: FastifyRequest, reply: FastifyReply) => unknown,
    { token = 'none', readsBody = false }: { token?: 'none' | 'read' | 'command'; readsBody?: boolean } = {},
  ) => {
    const onRequest = token === 'command' ? requireToken : token === 'read' ? requireReadToken : undefined;
    const config: BodyRouteConfig = { readsBody };
    app.route({ method, url: path, handler: handler as never, config, ...(onRequest ? { onRequest } : {}) });
    knownPaths.push(new RegExp(`^${path.replace(/:[^/]+/g, '[^/]+')}$`));
  };

  const sendResult = async (reply: FastifyReply, result: CommandResult, wait: boolean) => {
    if (wait) await result.whenDone();
    return sendJson(reply, result.toJSONBuffer());
  };

  route('GET', '/', (request, reply) => {
    const v1 = v1Document(rootUrl(request));
    return sendJson(reply, {
      name: 'OpenStack Ironic Python Agent API',
      description: 'Ironic Python Agent is a provisioning agent for OpenStack Ironic',
      versions: [v1],
      default_version: v1,
    });
  });

  route('GET', '/v1', redirectWithSlash);
  route('GET', '/v1/', (request, reply) => {
    const root = rootUrl(request);
    return sendJson(reply, {
      ...v1Document(root),
      commands: [
        { href: `${root}/v1/commands`, rel: 'self' },
        { href: `${root}/commands`, rel: 'bookmark' },
      ],
      status: [
        { href: `${root}/v1/status`, rel: 'self' },
        { href: `${root}/status`, rel: 'bookmark' },
      ],
      media_types: [{ base: 'application/json', type: 'application/vnd.openstack.ironic-python-agent.v1+json' }],
    });
  });

  for (const prefix of ['/v1', '']) {
    route('GET', `${prefix}/status`, (_request, reply) =>
      sendJson(reply, { started_at: options.startedAt(), version: options.version }),
    );

    route('GET', `${prefix}/commands`, redirectWithSlash);
    route('POST', `${prefix}/commands`, redirectWithSlash);

    route('GET', `${prefix}/commands/`, (_request, reply) => sendJson(reply, runner.listBody()), { token: 'read' });

    route(
      'POST',
      `${prefix}/commands/`,
      async (request, reply) => {
        const body = request.body as { name?: unknown; params?: unknown } | undefined;
        if (
          typeof body !== 'object' ||
          body === null ||
          typeof body.name !== 'string' ||
          typeof body.params !== 'object' ||
          body.params === null ||
          Array.isArray(body.params)
        ) {
          throw Faults.badCommandBody();
        }
        const result = await runner.execute(body.name, body.params as Record<string, unknown>);
        return sendResult(reply, result, wantsWait(parseCommandQuery(request)));
      },
      { token: 'command', readsBody: true },
    );

    route(
      'GET',
      `${prefix}/commands/:id`,
      async (request, reply) => {
        const result = runner.get((request.params as { id: string }).id);
        return sendResult(reply, result, wantsWait(parseCommandQuery(request)));
      },
      { token: 'read' },
    );
  }

  app.setNotFoundHandler((request) => {
    const path = request.url.split('?', 1)[0] ?? '';
    throw knownPaths.some((re) => re.test(path)) ? Faults.methodNotAllowed() : Faults.notFound();
  });
}
