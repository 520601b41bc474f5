// IPA's REST API as a stock Ironic conductor sees it: routes, documents, status codes and
// fault strings (reference §2), over real HTTP to an agent on 127.0.0.1.
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../helpers/agent.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
let agent: RunningAgent;
let client: AgentTestClient;

beforeAll(async () => {
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
  client = new AgentTestClient(agent.url);
});
afterAll(async () => {
  await agent.close();
});

async function raw(path: string, init: RequestInit = {}) {
  const response = await fetch(`${agent.url}${path}`, { redirect: 'manual', ...init });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
}

const node = { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: {}, instance_info: {}, driver_internal_info: {} };

describe('documents', () => {
  it('GET / describes the API with a v1 link built from the request host', async () => {
    const res = await raw('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json.name).toBe('OpenStack Ironic Python Agent API');
    expect(res.json.default_version.id).toBe('v1');
    expect(res.json.versions[0].links[0]).toEqual({ href: `${agent.url}/v1`, rel: 'self' });
    expect(res.text).not.toMatch(/\n/);
  });

  it('GET /v1/ lists commands, status and the media type', async () => {
    const res = await raw('/v1/');
    expect(res.status).toBe(200);
    expect(res.json.commands).toEqual([
      { href: `${agent.url}/v1/commands`, rel: 'self' },
      { href: `${agent.url}/commands`, rel: 'bookmark' },
    ]);
    expect(res.json.media_types[0].type).toBe('application/vnd.openstack.ironic-python-agent.v1+json');
  });

  it('GET /v1/status and the unversioned /status need no token', async () => {
    for (const path of ['/v1/status', '/status']) {
      const res = await raw(path);
      expect(res.status).toBe(200);
      expect(typeof res.json.started_at).toBe('number');
      expect(res.json.version).toMatch(/^\d+\.\d+\.\d+/);
    }
  });
});

describe('HEAD', () => {
  it('answers HEAD wherever GET is served: the same status and headers, no body', async () => {
    const get = await raw('/v1/status');
    const head = await raw('/v1/status', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(get.text)));
    expect((await raw('/v1/commands/', { method: 'HEAD' })).status).toBe(200);
    expect((await raw('/no/such/path', { method: 'HEAD' })).status).toBe(404);
  });
});

describe('strict slashes', () => {
  it.each([
    ['GET', '/v1', '/v1/'],
    ['GET', '/v1/commands?agent_token=x', '/v1/commands/?agent_token=x'],
    ['POST', '/v1/commands', '/v1/commands/'],
    ['GET', '/commands', '/commands/'],
  ])('%s %s answers 308 to %s', async (method, path, target) => {
    const res = await raw(path, { method });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe(`${agent.url}${target}`);
  });
});

describe('token', () => {
  it.each(['/v1/commands/', '/commands/'])('POST %s without a token is 401', async (path) => {
    const res = await raw(path, { method: 'POST', body: JSON.stringify({ name: 'clean.get_clean_steps', params: {} }) });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ faultcode: 'Client', faultstring: '401 Unauthorized: Token invalid.' });
  });

  it('a wrong token is 401 before the body is even read', async () => {
    const res = await raw('/v1/commands/?agent_token=wrong', { method: 'POST', body: 'not json' });
    expect(res.status).toBe(401);
    expect(res.json.faultstring).toBe('401 Unauthorized: Token invalid.');
  });

  it('a keep-alive connection that carried a refused body stays usable once the body is discarded', async () => {
    const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const request = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.request(`${agent.url}${path}`, { method, agent: pool }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect((await request('POST', '/v1/commands/?agent_token=wrong', 'x'.repeat(100_000))).status).toBe(401);
      // Past the second an unread body is given before its connection is cut.
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect(await request('GET', '/v1/status')).toEqual({ status: 200, reused: true });
    } finally {
      pool.destroy();
    }
  });

  it('an empty token is 401 on a command', async () => {
    const res = await raw('/v1/commands/?agent_token=', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });

  it('a GET with a JSON content type and no body (as python-requests sends it) is served', async () => {
    const res = await raw(`/v1/commands/?agent_token=${TOKEN}`, { headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
  });

  it('the right token is accepted on the unversioned alias too', async () => {
    const res = await raw(`/commands/?agent_token=${TOKEN}`);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json.commands)).toBe(true);
  });
});

// A 2023.1 conductor polls GET /v1/commands/ without the token (ironic-conductor §6.3);
// IPA serves such reads until some read has carried a token. Fresh agents: the rule is sticky.
describe('token on reads of command results', () => {
  let fresh: RunningAgent | undefined;
  afterEach(async () => {
    await fresh?.close();
    fresh = undefined;
  });
  const get = async (path: string) => {
    const response = await fetch(`${fresh!.url}${path}`, { headers: { 'content-type': 'application/json' } });
    return { status: response.status, json: (await response.json()) as any };
  };

  it('serves a tokenless GET /v1/commands/ and /v1/commands/<id>, as a 2023.1 conductor sends them', async () => {
    fresh = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
    const started = await new AgentTestClient(fresh.url).post('clean.get_clean_steps', { node, ports: [] }, true);
    expect(started.status).toBe(200);
    const list = await get('/v1/commands/');
    expect(list.status).toBe(200);
    expect(list.json.commands.map((c: any) => c.command_name)).toEqual(['get_clean_steps']);
    expect((await get(`/v1/commands/${started.body.id}`)).json.command_status).toBe('SUCCEEDED');
    expect((await get('/commands/')).status).toBe(200);
  });

  it('once a read carried a token, reads without one or with a wrong one are 401', async () => {
    fresh = await startTestAgent();
    expect((await get(`/v1/commands/?agent_token=${TOKEN}`)).status).toBe(200);
    for (const path of ['/v1/commands/', '/commands/', '/v1/commands/some-id', '/v1/commands/?agent_token=']) {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ faultcode: 'Client', faultstring: '401 Unauthorized: Token invalid.' });
    }
  });

  it('a read with a wrong token is 401 but does not lock a tokenless conductor out of its results', async () => {
    fresh = await startTestAgent();
    expect((await get('/v1/commands/?agent_token=wrong')).status).toBe(401);
    // IPA flips to "token required" on any token, even a wrong one: anyone on the
    // provisioning network could then stall a 2023.1 conductor. Only the right one flips it.
    expect((await get('/v1/commands/')).status).toBe(200);
    expect((await get(`/v1/commands/?agent_token=${TOKEN}`)).status).toBe(200);
    expect((await get('/v1/commands/')).status).toBe(401);
  });

  it('never lets a tokenless request run a command', async () => {
    fresh = await startTestAgent();
    expect((await get('/v1/commands/')).status).toBe(200);
    const res = await fetch(`${fresh.url}/v1/commands/?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'clean.get_clean_steps', params: { node, ports: [] } }),
    });
    expect(res.status).toBe(401);
  });
});

describe('command request errors', () => {
  const post = (body: string) =>
    raw(`/v1/commands/?agent_token=${TOKEN}`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });

  it.each([
    ['no name', JSON.stringify({ params: {} })],
    ['no params', JSON.stringify({ name: 'clean.get_clean_steps' })],
    ['params not an object', JSON.stringify({ name: 'clean.get_clean_steps', params: [1] })],
    ['an empty body', ''],
  ])('%s → 400 Missing or invalid name or params', async (_label, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ faultcode: 'Client', faultstring: '400 Bad Request: Missing or invalid name or params' });
  });

  it('a body that is not JSON → 400 naming the decoding failure', async () => {
    const res = await post('{"name": ');
    expect(res.status).toBe(400);
    expect(res.json.faultstring).toMatch(/^400 Bad Request: Failed to decode JSON object: /);
  });

  it('a name without a dot → 400', async () => {
    const res = await client.post('get_clean_steps', {});
    expect(res.status).toBe(400);
    expect(res.body.faultstring).toBe('Invalid command: Command name must be of the form <extension>.<name>');
  });

  it('an unknown extension → 404', async () => {
    const res = await client.post('frobnicate.now', {});
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ faultcode: 'Client', faultstring: 'Not found: Extension with id frobnicate not found.' });
  });

  it('an unknown command in a known extension → 400', async () => {
    const res = await client.post('clean.frobnicate', {});
    expect(res.status).toBe(400);
    expect(res.body.faultstring).toBe('Invalid command: Unknown command: frobnicate');
  });

  it('params the command rejects → 400 naming the bad key, and nothing is stored', async () => {
    const before = (await client.list()).body.commands.length;
    const res = await client.post('clean.get_clean_steps', { ports: [] });
    expect(res.status).toBe(400);
    expect(res.body.faultstring).toMatch(/^Invalid command parameters: node: /);
    expect((await client.list()).body.commands.length).toBe(before);
  });

  it('an unknown command id → 404', async () => {
    const res = await client.get('no-such-id');
    expect(res.status).toBe(404);
    expect(res.body.faultstring).toBe('Not found: Command Result with id no-such-id not found.');
  });

  it('an unknown URL → 404 and a wrong method → 405, both with the fault body', async () => {
    const missing = await raw('/v2/');
    expect(missing.status).toBe(404);
    expect(missing.json.faultcode).toBe('Client');
    expect(missing.json.faultstring).toMatch(/^404 Not Found: /);
    const wrongMethod = await raw('/v1/status', { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json.faultstring).toBe('405 Method Not Allowed: The method is not allowed for the requested URL.');
  });
});

describe('commands', () => {
  it('a sync command answers its finished result, with the short command name', async () => {
    const res = await client.post('clean.get_clean_steps', { node, ports: [] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      command_name: 'get_clean_steps',
      command_status: 'SUCCEEDED',
      command_error: null,
      command_progress: null,
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(res.body).sort()).toEqual(
      ['command_error', 'command_name', 'command_progress', 'command_result', 'command_status', 'id'].sort(),
    );
  });

  it('an async command answers RUNNING at once; wait=true on GET blocks until it ends', async () => {
    const started = await client.post('clean.execute_clean_step', {
      node,
      ports: [],
      step: { step: 'fixture_sleep', args: { ms: 300 } },
    });
    expect(started.status).toBe(200);
    expect(started.body.command_status).toBe('RUNNING');
    expect(started.body.command_name).toBe('execute_clean_step');
    const done = await client.get(started.body.id, true);
    expect(done.body.command_status).toBe('SUCCEEDED');
    expect(done.body.command_result.clean_result).toEqual({ slept_ms: 300 });
  });

  it('wait=true on POST returns the finished result', async () => {
    const res = await client.post(
      'clean.execute_clean_step',
      { node, ports: [], step: { step: 'fixture_sleep', args: { ms: 50 } } },
      true,
    );
    expect(res.body.command_status).toBe('SUCCEEDED');
  });

  it('while an async command runs, any new command is 409 busy naming it', async () => {
    const started = await client.post('clean.execute_clean_step', {
      node,
      ports: [],
      step: { step: 'fixture_sleep', args: { ms: 400 } },
    });
    const busy = await client.post('clean.get_clean_steps', { node, ports: [] });
    expect(busy.status).toBe(409);
    expect(busy.body).toEqual({ faultcode: 'Client', faultstring: 'Agent is busy: executing command execute_clean_step' });
    await client.get(started.body.id, true);
    const after = await client.post('clean.get_clean_steps', { node, ports: [] });
    expect(after.status).toBe(200);
  });

  it('progress is visible while RUNNING and the list keeps insertion order', async () => {
    const started = await client.post('clean.execute_clean_step', {
      node,
      ports: [],
      step: { step: 'fixture_sleep', args: { ms: 400 } },
    });
    await new Promise((r) => setTimeout(r, 300));
    const mid = await client.get(started.body.id);
    expect(mid.body.command_status).toBe('RUNNING');
    expect(mid.body.command_progress).toEqual({ percent: 50 });
    await client.get(started.body.id, true);
    const list = (await client.list()).body.commands;
    expect(list.at(-1).id).toBe(started.body.id);
  });

  it('a step that throws an unexpected error is FAILED with IPA wrapping, and the list still serves', async () => {
    const res = await client.post(
      'clean.execute_clean_step',
      { node, ports: [], step: { step: 'fixture_unexpected_error' } },
      true,
    );
    expect(res.body.command_status).toBe('FAILED');
    expect(res.body.command_error).toEqual({
      type: 'CleaningError',
      code: 500,
      message: 'Clean step failed',
      details: 'Unexpected exception performing clean step fixture_unexpected_error. TypeError: disk went away',
    });
    expect((await client.list()).status).toBe(200);
  });
});
