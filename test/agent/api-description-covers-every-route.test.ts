// The OpenAPI document in docs/ describes what the agent really serves: every route of
// http/routes.ts and every command of every extension, and it is regenerated whenever they
// change (a new route or command without `npm run api-doc` fails here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeAgentApi, renderApiMarkdown } from '../../src/agent/api-description.js';
import type { CommandRunner } from '../../src/agent/command-runner.js';
import { builtinExtensions } from '../../src/agent/extensions/index.js';
import { registerAgentRoutes } from '../../src/agent/http/routes.js';
import { createHttpServer } from '../../src/agent/http/server.js';
import type { TokenGate } from '../../src/agent/http/token-gate.js';
import { AGENT_VERSION } from '../../src/version.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const document = describeAgentApi(builtinExtensions, AGENT_VERSION) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { properties?: { name?: { const?: string } } }> };
};

/** What the server registers, as the document names it: `/v1` prefix, `{id}`, redirects to their target. */
function servedRoutes(): string[] {
  const app = createHttpServer();
  registerAgentRoutes(app, {
    runner: {} as CommandRunner,
    tokenGate: {} as TokenGate,
    version: AGENT_VERSION,
    startedAt: () => null,
  });
  const routes = app.router.routes.map((route) => {
    let path = route.path.replace(/:([a-z]+)/g, '{$1}');
    if (path !== '/' && !path.startsWith('/v1')) path = `/v1${path}`;
    if (path === '/v1' || path === '/v1/commands') path = `${path}/`;
    return `${route.method.toLowerCase()} ${path}`;
  });
  return [...new Set(routes)].sort();
}

describe('the agent API description', () => {
  it('describes every route the agent serves, and no other', async () => {
    const described = Object.entries(document.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
      .sort();
    expect(described).toEqual(servedRoutes());
  });

  it('describes every command with its name and params', () => {
    const described = Object.values(document.components.schemas)
      .map((schema) => schema.properties?.name?.const)
      .filter((name): name is string => typeof name === 'string')
      .sort();
    const served = builtinExtensions.flatMap((e) => e.commands.map((c) => `${e.name}.${c.name}`)).sort();
    expect(described).toEqual(served);
    expect(served).toContain('standby.prepare_image');
  });

  it('is checked in up to date (npm run api-doc writes docs/agent-api.openapi.json and .md)', () => {
    expect(readFileSync(join(DOCS, 'agent-api.openapi.json'), 'utf8')).toBe(`${JSON.stringify(document, null, 2)}\n`);
    expect(readFileSync(join(DOCS, 'agent-api.md'), 'utf8')).toBe(renderApiMarkdown(document));
  });
});
