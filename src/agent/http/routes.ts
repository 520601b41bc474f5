/**
 * IPA's REST API (reference §2): `/`, `/v1/`, status, and the command routes under both
 * `/v1/commands/` and the unversioned `/commands/` alias.
 */
import type { CommandResult } from '../command-result.js';
import type { CommandRunner } from '../command-runner.js';
import { Faults } from './fault.js';
import { parseCommandQuery, wantsWait } from './query.js';
import type { AgentRequest, Reply, RouteDefinition } from './router.js';
import type { AgentHttpServer } from './server.js';
import type { TokenGate } from './token-gate.js';

export interface AgentRoutesOptions {
  runner: CommandRunner;
  tokenGate: TokenGate;
  version: string;
  startedAt: () => number | null;
}

const DESCRIBED_BY = { href: 'https://docs.openstack.org/ironic-python-agent/', rel: 'describedby', type: 'text/html' };

function rootUrl(request: AgentRequest): string {
  return `${request.protocol}://${request.host}`;
}

function v1Document(root: string) {
  return { id: 'v1', links: [{ href: `${root}/v1`, rel: 'self' }, DESCRIBED_BY] };
}

function json(payload: unknown, status = 200): Reply {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  return { status, body };
}

/** werkzeug's strict-slash redirect, keeping the query string. */
function redirectWithSlash(request: AgentRequest): Reply {
  const query = request.search === '?' ? '' : request.search;
  return { status: 308, headers: { location: `${rootUrl(request)}${request.path}/${query}` } };
}

export function registerAgentRoutes(app: AgentHttpServer, options: AgentRoutesOptions): void {
  const { runner, tokenGate } = options;
  // The token is checked before the body is read or parsed (IPA LP#2160196), then the query
  // (a repeated parameter is a 400 before anything runs).
  const requireToken = (request: AgentRequest) => {
    if (!tokenGate.accepts(request.query.agent_token)) throw app.authFailures.refuse(request.ip);
    parseCommandQuery(request.query);
  };
  // Reads of command results: open to a conductor that never sends the token (token-gate.ts).
  const requireReadToken = (request: AgentRequest) => {
    if (!tokenGate.acceptsRead(request.query.agent_token)) throw app.authFailures.refuse(request.ip);
    parseCommandQuery(request.query);
  };
  const route = (
    method: RouteDefinition['method'],
    path: string,
    handler: RouteDefinition['handler'],
    { token = 'none', readsBody = false }: { token?: 'none' | 'read' | 'command'; readsBody?: boolean } = {},
  ) => {
    const guard = token === 'command' ? requireToken : token === 'read' ? requireReadToken : undefined;
    app.route({ method, path, handler, guard, readsBody });
  };

  // IPA's wait=true answers once the command is done. When the client has left or the agent
  // is closing, the answer is the result as it stands (RUNNING): nothing is left waiting.
  const sendResult = async (result: CommandResult, wait: boolean, request: AgentRequest): Promise<Reply> => {
    if (wait && !result.isDone) await Promise.race([result.whenDone(), request.released()]);
    return json(result.toJSONBuffer());
  };

  route('GET', '/', (request) => {
    const v1 = v1Document(rootUrl(request));
    return json({
      name: 'OpenStack Ironic Python Agent API',
      description: 'Ironic Python Agent is a provisioning agent for OpenStack Ironic',
      versions: [v1],
      default_version: v1,
    });
  });

  route('GET', '/v1', redirectWithSlash);
  route('GET', '/v1/', (request) => {
    const root = rootUrl(request);
    return json({
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
    route('GET', `${prefix}/status`, () => json({ started_at: options.startedAt(), version: options.version }));

    route('GET', `${prefix}/commands`, redirectWithSlash);
    route('POST', `${prefix}/commands`, redirectWithSlash);

    route('GET', `${prefix}/commands/`, () => json(runner.listBody()), { token: 'read' });

    route(
      'POST',
      `${prefix}/commands/`,
      async (request) => {
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
        return sendResult(result, wantsWait(parseCommandQuery(request.query)), request);
      },
      { token: 'command', readsBody: true },
    );

    route(
      'GET',
      `${prefix}/commands/:id`,
      (request) => sendResult(runner.get(request.params.id!), wantsWait(parseCommandQuery(request.query)), request),
      { token: 'read' },
    );
  }
}
