/**
 * What a stranger on the provisioning network can do to the API, over real HTTP on
 * 127.0.0.1: large unauthenticated bodies on routes that take none are never read or
 * parsed (status keeps answering fast), an authenticated body too structured to parse
 * quickly is refused, a repeated query parameter is a 400 before anything runs, stalled
 * clients are cut off, CONNECT gets an answer, and wrong tokens are limited and not logged
 * without bound.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import { createHttpServer } from '../../src/agent/http/server.js';
import { registerAgentRoutes } from '../../src/agent/http/routes.js';
import { TokenGate } from '../../src/agent/http/token-gate.js';
import { CommandRunner } from '../../src/agent/command-runner.js';
import type { AgentServices } from '../../src/agent/services.js';
import { silentLogger } from '../../src/shared/logger.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
let agent: RunningAgent | undefined;
let lines: string[] = [];

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  lines = [];
});

async function start(): Promise<RunningAgent> {
  const config = mergeConfig({
    flags: {
      standalone: true,
      agentToken: TOKEN,
      listenHost: '127.0.0.1',
      listenPort: 0,
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
    },
  });
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  agent = await startAgent({ config, logger: { level: 'info', stream } as never });
  // A standalone agent answers before its managers load: let them load before the timings.
  await agent.ready;
  return agent;
}

/**
 * Sends one `[{},{},…]` body of `sizeBytes` per request from another process (so the
 * agent's event loop does not pay for building and sending it) and resolves with the
 * status codes, in order.
 */
function sendFromAnotherProcess(url: string, requests: Array<[method: string, path: string]>, sizeBytes: number) {
  const script = `
    const http = require('node:http');
    const [url, list, size] = [process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3])];
    const body = Buffer.from('[' + '{},'.repeat(Math.floor(size / 3) - 1) + '{}]');
    Promise.all(list.map(([method, path]) => new Promise((resolve) => {
      const req = http.request(url + path, { method, headers: { 'content-type': 'application/json', 'content-length': body.length } });
      req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', (e) => resolve(String(e.code)));
      req.end(body);
    }))).then((codes) => process.stdout.write(JSON.stringify(codes)));
  `;
  return new Promise<unknown[]>((resolve, reject) => {
    execFile(process.execPath, ['-e', script, url, JSON.stringify(requests), String(sizeBytes)], (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout) as unknown[]),
    );
  });
}

/** Polls /v1/status until `until` settles; returns the worst latency seen (ms). */
async function worstStatusLatency(url: string, until: Promise<unknown>): Promise<number> {
  let done = false;

  void until.finally(() => (done = true));
  let worst = 0;
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${url}/v1/status`);
    await response.text();
    worst = Math.max(worst, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return worst;
}

/**
 * The target is 100 ms; the assertion allows what this machine's scheduling alone costs (the
 * worst of 2 s of polling without any attack, twice, measured just before) and never less than
 * 500 ms, since on a shared 2-core machine running other tests a quiet agent's answer can take
 * a few hundred. The defect this guards against held the event loop for 16 s; the figures
 * are printed either way.
 */
function allowedLatency(baselineWorstMs: number): number {
  return Math.max(500, 100 + 2 * baselineWorstMs);
}

describe('bodies nobody asked for', () => {
  it('a 16 MiB unauthenticated body on routes that take none is not read: 404/308/405 at once, status stays fast', async () => {
    const { url } = await start();
    await (await fetch(`${url}/v1/status`)).text();
    const baseline = await worstStatusLatency(url, new Promise((resolve) => setTimeout(resolve, 2_000)));
    const attack = sendFromAnotherProcess(
      url,
      [
        ['POST', '/no/such/path'],
        ['POST', '/v1/commands'],
        ['PUT', '/v1/commands/'],
        ['DELETE', '/v1/status'],
      ],
      16 * 1024 * 1024,
    );
    const worst = await worstStatusLatency(url, attack);
    expect(await attack).toEqual([404, 308, 405, 405]);
    console.log(`/v1/status worst latency: ${worst.toFixed(1)} ms under attack, ${baseline.toFixed(1)} ms without`);
    expect(worst).toBeLessThan(allowedLatency(baseline));
  });

  it('the command POST without the right token is 401 before its body is read', async () => {
    const { url } = await start();
    await (await fetch(`${url}/v1/status`)).text();
    const baseline = await worstStatusLatency(url, new Promise((resolve) => setTimeout(resolve, 2_000)));
    const attack = sendFromAnotherProcess(url, [['POST', '/v1/commands/?agent_token=wrong']], 16 * 1024 * 1024);
    const worst = await worstStatusLatency(url, attack);
    expect(await attack).toEqual([401]);
    console.log(`/v1/status worst latency: ${worst.toFixed(1)} ms under attack, ${baseline.toFixed(1)} ms without`);
    expect(worst).toBeLessThan(allowedLatency(baseline));
  });

  it('reads a write_image step carrying a large config drive three times, as Ironic sends it; 413 past that', async () => {
    const { url } = await start();
    // Ironic's write_image step: the config drive in the step's args twice and in the node's
    // instance_info (unmasked): 3 × 40 MiB, past a limit of one 85 MiB copy.
    const configdrive = 'H4sI'.padEnd(40 * 1024 * 1024, 'A');
    const step = { step: 'write_image', interface: 'deploy', args: { configdrive, image_info: { id: 'i', configdrive } } };
    const response = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}`, {
      method: 'POST',
      body: JSON.stringify({
        name: 'deploy.execute_deploy_step',
        params: { step, node: { uuid: 'n', instance_info: { configdrive } }, ports: [] },
      }),
    });
    const answer = (await response.json()) as { command_name: string };
    expect(response.status, JSON.stringify(answer).slice(0, 300)).toBe(200);
    expect(answer.command_name).toBe('execute_deploy_step');

    const declared = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => (text += String(chunk)));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(
        `POST /v1/commands/?agent_token=${TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: ${300 * 1024 * 1024}\r\nConnection: close\r\n\r\n{`,
      );
      setTimeout(() => socket.end(), 500);
    });
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('an authenticated body with too many objects to parse quickly is refused with 400', async () => {
    const { url } = await start();
    const response = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}`, {
      method: 'POST',
      body: JSON.stringify({ name: 'standby.get_partition_uuids', params: { junk: new Array(200_000).fill({}) } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      faultcode: 'Client',
      faultstring: '400 Bad Request: Failed to decode JSON object: more than 100000 objects and arrays',
    });
  });
});

describe('the query string', () => {
  it('wait given twice is a 400 in IPA’s shape, and nothing runs', async () => {
    const { url } = await start();
    const post = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}&wait=true&wait=false`, {
      method: 'POST',
      body: JSON.stringify({ name: 'system.lockdown', params: {} }),
    });
    expect(post.status).toBe(400);
    expect(await post.json()).toEqual({
      faultcode: 'Client',
      faultstring: '400 Bad Request: Invalid query string: wait given more than once.',
    });
    // Reads are open without a token (late binding); a repeated wait there is a 400 too.
    const read = await fetch(`${url}/v1/commands/?wait=a&wait=b`);
    expect(read.status).toBe(400);
    const list = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}`);
    expect(await list.json()).toEqual({ commands: [] });
    expect(agent!.serving).toBe(true);
  });
});

describe('stalled clients and odd methods', () => {
  async function bareServer() {
    const runner = new CommandRunner([], { log: silentLogger } as unknown as AgentServices);
    const app = createHttpServer({
      timeouts: { headersMs: 300, requestMs: 600, checkIntervalMs: 100 },
    });
    registerAgentRoutes(app, {
      runner,
      tokenGate: new TokenGate({ token: TOKEN, required: true }),
      version: '0',
      startedAt: () => 0,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, port: (app.server.address() as { port: number }).port };
  }

  /** Writes `text` on a raw connection and resolves with what came back when the server closed it. */
  function stall(port: number, text: string): Promise<{ answer: string; afterMs: number }> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => resolve({ answer, afterMs: performance.now() - started }));
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the server kept the stalled connection open'));
      }, 5_000);
    });
  }

  it('cuts off a client whose headers never end, and one whose body never ends', async () => {
    const { app, port } = await bareServer();
    try {
      const headers = await stall(port, 'GET /v1/status HTTP/1.1\r\nHost: x\r\n');
      expect(headers.afterMs).toBeLessThan(2_000);
      const body = await stall(
        port,
        `POST /v1/commands/?agent_token=${TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"name"`,
      );
      expect(body.afterMs).toBeLessThan(2_000);
      expect(body.answer).toMatch(/^HTTP\/1.1 408/);
      expect(JSON.parse(body.answer.split('\r\n\r\n')[1]!)).toMatchObject({ faultcode: 'Client' });
    } finally {
      await app.close();
    }
  });

  it('answers bytes that are not HTTP with a 400 in IPA’s fault shape, and a huge header with 431', async () => {
    const { app, port } = await bareServer();
    try {
      const garbage = await stall(port, '\x16\x03\x01 not http at all\r\n\r\n');
      expect(garbage.answer).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
      expect(JSON.parse(garbage.answer.split('\r\n\r\n')[1]!)).toEqual({
        faultcode: 'Client',
        faultstring: '400 Bad Request: The browser (or proxy) sent a request that this server could not understand.',
      });
      const huge = await stall(port, `GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Filler: ${'h'.repeat(20_000)}\r\n\r\n`);
      expect(huge.answer).toMatch(/^HTTP\/1.1 431 /);
      expect(JSON.parse(huge.answer.split('\r\n\r\n')[1]!).faultcode).toBe('Client');
    } finally {
      await app.close();
    }
  });

  it('pipelined bodies nobody reads leave nothing behind on their connection', async () => {
    const { app, port } = await bareServer();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const one = 'GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx';
      const { answer } = await stall(
        port,
        `${one.repeat(50)}${one.replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n')}`,
      );
      expect(answer.match(/HTTP\/1.1 200 /g)).toHaveLength(51);
      // One cut-off listener per unread body used to stay on the socket (Node warns at 11).
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });

  it('finds routes by their decoded path, in absolute form too, as werkzeug does', async () => {
    const { app, port } = await bareServer();
    try {
      for (const target of ['/v1/%73tatus', 'http://127.0.0.1/v1/status', '/v1/status#fragment']) {
        const { answer } = await stall(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        expect(answer, target).toMatch(/^HTTP\/1.1 200 /);
      }
    } finally {
      await app.close();
    }
  });

  it('does not invite a body (100 Continue) before the token is checked', async () => {
    const { app, port } = await bareServer();
    try {
      const ask = (token: string) =>
        stall(
          port,
          `POST /v1/commands/?agent_token=${token} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n` +
            'Content-Length: 2\r\nConnection: close\r\n\r\n',
        );
      const refused = await ask('wrong');
      expect(refused.answer).toMatch(/^HTTP\/1.1 401 /);
      expect(refused.answer).not.toContain('100 Continue');
      const invited = await ask(TOKEN);
      expect(invited.answer).toMatch(/^HTTP\/1.1 100 Continue\r\n/);
    } finally {
      await app.close();
    }
  });

  it('answers CONNECT with 405 in IPA’s fault shape instead of dropping it', async () => {
    const { app, port } = await bareServer();
    try {
      const { answer } = await stall(port, 'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1.1 405 Method Not Allowed\r\n/);
      expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toEqual({
        faultcode: 'Client',
        faultstring: '405 Method Not Allowed: The method is not allowed for the requested URL.',
      });
    } finally {
      await app.close();
    }
  });
});

describe('wrong tokens', () => {
  it('the token is redacted from the request log however its name is encoded', async () => {
    const { url } = await start();
    for (const name of ['agent_token', 'agent%5Ftoken', 'agent%5ftoken', '%61gent_token']) {
      await fetch(`${url}/v1/commands/?${name}=${TOKEN}`);
    }
    expect(lines.filter((line) => line.includes('/v1/commands/'))).toHaveLength(4);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('past 20 wrong tokens a second a client gets 429, and at most 10 of those request lines a second are logged', async () => {
    const { url } = await start();
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${url}/v1/commands/?agent_token=guess-${i}`, { method: 'POST', body: '{}' }).then((r) => r.status),
      ),
    );
    // The limits are per second: a busy machine may spread the guesses over several.
    const seconds = Math.ceil((performance.now() - started) / 1000) + 1;
    // The right token is never limited.
    const right = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}`);
    expect(right.status).toBe(200);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(20 * seconds);
    if (seconds < 5) expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const logged = lines.filter((line) => /POST \/v1\/commands\/\?agent_token=\*\*\* - (401|429)/.test(line));
    expect(logged.length).toBeLessThanOrEqual(10 * seconds);
  });
});
