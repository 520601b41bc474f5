/**
 * Seeded fuzzing of the agent API over loopback: at least 10,000 malformed requests of every
 * kind (methods, paths, encodings, repeated or odd query parameters, broken headers and
 * framing, truncated and hostile bodies, wrong and right tokens with bad commands, clients
 * that stall or hang up) against an agent running as its own process. Throughout: no 5xx,
 * /v1/status answers within the latency bound, and the agent's RSS grows by at most 64 MiB.
 * The figures are printed. FUZZ_SEED picks another seed; the run is bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../interop/harness/free-port.js';
import { REPO, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';

const TOKEN = 'fuzz-token-0123456789abcdef0123456789';
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const REQUESTS = 10_000;
const CONCURRENCY = 24;
const TIME_BUDGET_MS = 150_000;
const MAX_RSS_GROWTH_MIB = 64;

let agent: ChildProcess;
let port: number;
let dir: string;

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-fuzz-'));
  port = await freePort();
  agent = spawn(process.execPath, standaloneAgentArgs({ dir, port, logLevel: 'error', extra: ['--agent-token', TOKEN] }), {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v1/status`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the agent did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // A standalone agent answers before its hardware managers load; a conductor's first command
  // waits for them. Do the same, so the fuzzing measures the agent serving, not starting.
  const steps = await fetch(`http://127.0.0.1:${port}/v1/commands/?wait=true&agent_token=${TOKEN}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'clean.get_clean_steps', params: { node: { uuid: 'fuzz' }, ports: [] } }),
  });
  expect(steps.status).toBe(200);
  expect(((await steps.json()) as { command_status: string }).command_status).toBe('SUCCEEDED');
});

afterAll(() => {
  agent?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'G\u00e9T',
  'get',
  '',
];
const PATHS = [
  '/',
  '/v1',
  '/v1/',
  '/v1/status',
  '/status',
  '/v1/commands',
  '/v1/commands/',
  '/commands/',
  '/v1/commands/00000000-0000-0000-0000-000000000000',
  '/v1/commands/..%2f..%2fetc%2fpasswd',
  '/v1//commands/',
  '/v1/commands/%00',
  '/%ff%fe',
  '//',
  '*',
  'http://evil.example/v1/commands/',
  `/${'a'.repeat(9000)}`,
  '/v1/commands/?',
];
const QUERIES = [
  '',
  `?agent_token=${TOKEN}`,
  `?agent%5Ftoken=${TOKEN}`,
  '?agent_token=wrong',
  `?agent_token=${TOKEN}&agent_token=${TOKEN}`,
  `?agent_token=${TOKEN}&wait=true&wait=false`,
  '?wait=a&wait=b',
  `?agent_token=${TOKEN}&wait=true`,
  '?wait[]=1&agent_token[x]=y',
  '?%zz=%zz',
  `?agent_token=${'x'.repeat(5000)}`,
  '?a=1&'.repeat(200),
];
/** Command bodies a token holder might send by mistake: every one must be refused with 4xx. */
const BAD_COMMANDS = [
  '{"name": "nope", "params": {}}',
  '{"name": "no_such.thing", "params": {}}',
  '{"name": "standby.no_such", "params": {}}',
  '{"name": "standby.prepare_image", "params": {"image_info": 5}}',
  '{"name": "standby.prepare_image", "params": {"image_info": {"id": 1, "urls": "x"}}}',
  '{"name": "clean.execute_clean_step", "params": {"step": 7, "node": [], "ports": "x"}}',
  '{"name": "deploy.execute_deploy_step", "params": {"step": {"step": ""}, "node": {}}}',
  '{"name": "clean.get_clean_steps", "params": {"node": "x"}}',
  '{"name": 5, "params": {}}',
  '{"name": "standby.power_off", "params": []}',
  '{"name": "standby.power_off"}',
  '{"params": {}}',
  '[]',
  'null',
  '"string"',
  '{"name": "image.install_bootloader", "params": {"root_uuid": {"$ne": 1}}}',
  '{"name": "log.collect_system_logs", "params": {"unknown": true, "__proto__": {"x": 1}}}',
];

function body(random: () => number): string | Buffer {
  const pick = Math.floor(random() * 10);
  switch (pick) {
    case 0:
      return '';
    case 1:
      return BAD_COMMANDS[Math.floor(random() * BAD_COMMANDS.length)]!;
    case 2:
      return '{"name": "standby.prepare_image", "params": {'.slice(0, Math.floor(random() * 45));
    case 3:
      return '['.repeat(1 + Math.floor(random() * 5000));
    case 4:
      return `[${'{},'.repeat(Math.floor(random() * 20000))}{}]`;
    case 5:
      return Buffer.from(Array.from({ length: Math.floor(random() * 2048) }, () => Math.floor(random() * 256)));
    case 6:
      return JSON.stringify({ name: 'x.y', params: { deep: JSON.parse('['.repeat(50) + ']'.repeat(50)) } });
    case 7:
      return `{"name": "standby.prepare_image", "params": {"image_info": {"urls": ["${'u'.repeat(Math.floor(random() * 100_000))}"]}}}`;
    case 8:
      return '\ufeff{"name":"a.b","params":{}}';
    default:
      return '{"name": "\\ud800", "params": {"\\u0000": 1}}';
  }
}

/** One raw HTTP/1.1 request, framed right or deliberately wrong. */
function request(random: () => number): { bytes: Buffer; hangUpAfter?: number } {
  const method = METHODS[Math.floor(random() * METHODS.length)]!;
  const path = PATHS[Math.floor(random() * PATHS.length)]! + QUERIES[Math.floor(random() * QUERIES.length)]!;
  const payload = Buffer.from(body(random));
  const framing = Math.floor(random() * 8);
  const headers = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  let sent: Buffer = payload;
  switch (framing) {
    case 0: // honest content-length
      headers.push('Content-Type: application/json', `Content-Length: ${payload.length}`);
      break;
    case 1: // claims more than it sends, then hangs up
      headers.push(`Content-Length: ${payload.length + 1000}`);
      return { bytes: Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), payload]), hangUpAfter: 50 };
    case 2: // chunked, sometimes broken
      headers.push('Transfer-Encoding: chunked');
      sent = Buffer.concat([
        Buffer.from(`${random() < 0.3 ? 'zz' : payload.length.toString(16)}\r\n`),
        payload,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      break;
    case 3: // both, or a negative length
      headers.push(random() < 0.5 ? 'Content-Length: -1' : `Content-Length: ${payload.length}`, 'Transfer-Encoding: chunked');
      break;
    case 4: // odd content types and a huge header
      headers.push(`Content-Type: ${random() < 0.5 ? 'text/plain' : 'multipart/form-data; boundary=x'}`);
      headers.push(`X-Filler: ${'h'.repeat(random() < 0.2 ? 20_000 : 100)}`, `Content-Length: ${payload.length}`);
      break;
    case 5: // headers never finished
      return { bytes: Buffer.from(`${headers.join('\r\n')}\r\nX-Partial: `), hangUpAfter: 100 };
    case 6: // garbage instead of HTTP
      return { bytes: Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))) };
    default: // content-length with an expect: 100-continue
      headers.push('Expect: 100-continue', `Content-Length: ${payload.length}`);
  }
  return { bytes: Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), sent]) };
}

/** Sends one request on its own connection; resolves with the status (0: no answer). */
function send(bytes: Buffer, hangUpAfter?: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      // A 100 Continue is followed by the real answer.
      const final = /HTTP\/1\.[01] (\d{3})(?![\s\S]*HTTP\/1\.[01] \d{3})/.exec(head);
      resolve(Number(final?.[1] ?? match?.[1] ?? 0));
    };
    const timer = setTimeout(finish, 3_000);
    socket.on('connect', () => {
      socket.write(bytes);
      if (hangUpAfter !== undefined) setTimeout(() => socket.end(), hangUpAfter);
    });
    socket.on('data', (chunk) => {
      if (head.length < 4096) head += chunk.toString('latin1');
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

describe('fuzzing the API with malformed requests', () => {
  it(`answers ${REQUESTS} malformed requests without a 5xx, keeps /v1/status fast and its memory flat`, async () => {
    const random = prng(SEED);
    const rssBefore = rssMiB(agent.pid!);
    const statuses = new Map<number, number>();
    let sent = 0;
    let worstStatusMs = 0;
    let statusFailures = 0;
    let attacking = true;
    const started = Date.now();

    const prober = (async () => {
      while (attacking) {
        const t0 = performance.now();
        try {
          const response = await fetch(`http://127.0.0.1:${port}/v1/status`);
          await response.text();
          if (!response.ok) statusFailures++;
        } catch {
          statusFailures++;
        }
        worstStatusMs = Math.max(worstStatusMs, performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const worker = async () => {
      while (sent < REQUESTS && Date.now() - started < TIME_BUDGET_MS) {
        sent++;
        const { bytes, hangUpAfter } = request(random);
        const status = await send(bytes, hangUpAfter);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    attacking = false;
    await prober;
    const rssAfter = rssMiB(agent.pid!);
    const fiveHundreds = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);

    console.log(
      `fuzz (seed ${SEED}): ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
        `5xx: ${fiveHundreds}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}, ` +
        `worst /v1/status ${worstStatusMs.toFixed(1)} ms (${statusFailures} failed), ` +
        `RSS ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MiB`,
    );
    expect(sent).toBeGreaterThanOrEqual(REQUESTS);
    expect(fiveHundreds).toBe(0);
    expect(statusFailures).toBe(0);
    // 100 ms is the target; a shared, loaded test machine gets the same allowance as the
    // hostile-client tests (see http-hostile-clients.test.ts).
    expect(worstStatusMs).toBeLessThan(500);
    expect(rssAfter - rssBefore).toBeLessThanOrEqual(MAX_RSS_GROWTH_MIB);
    expect((await fetch(`http://127.0.0.1:${port}/v1/status`)).status).toBe(200);
  }, 240_000);
});
