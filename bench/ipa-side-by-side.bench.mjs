// bench/ipa-side-by-side: ramdisk-agent and ironic-python-agent 9.4.3 started on this machine in
// the same run, measured by the same client (one keep-alive HTTP/1.1 connection, requests one
// after another, as ../shared/reference/ipa-baseline.md), printed in one table.
// Both log at INFO into a file; both run standalone on 127.0.0.1. The two alternate, row group by
// row group, so background load hits both alike; the load average is printed with the table.
//   BENCH_SIDE_STARTS   start-ups per agent (median reported), default 5
//   BENCH_SIDE_REQUESTS requests per latency row, default 500 (status) / 200 (steps)
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, keepAliveClient, rssMiB, stop, summarize } from './lib.mjs';
import { IPA_TAG, prepareIpa } from './ipa-runtime.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const STARTS = Number(process.env.BENCH_SIDE_STARTS ?? 5);
const STATUS_N = Number(process.env.BENCH_SIDE_REQUESTS ?? 500);
const STEPS_N = Math.max(50, Math.round(STATUS_N * 0.4));
const logDir = mkdtempSync(join(tmpdir(), 'bench-side-'));
let nextPort = 19400 + Math.floor(Math.random() * 400);

const ours = {
  name: 'ramdisk-agent',
  command: (port) => ({
    file: join(root, 'bin', 'ramdisk-agent'),
    args: ['agent', '--standalone', '--listen', `127.0.0.1:${port}`, '--log-level', 'info', '--cmdline', '/dev/null'],
    env: process.env,
    logToStdout: true,
  }),
};
let ipa;
try {
  const runtime = prepareIpa();
  ipa = { name: `IPA ${IPA_TAG}`, command: (port) => runtime.command(port, join(logDir, `ipa-${port}.log`)) };
} catch (error) {
  console.log(`IPA ${IPA_TAG} cannot run here (${error.message}): printing ours only.`);
}
const agents = ipa ? [ours, ipa] : [ours];

function getStatus(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/status', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

/** Spawn, poll GET /v1/status every 5 ms on a new connection until 200; ms from spawn. */
async function start(agent) {
  const port = nextPort++;
  const { file, args, env, logToStdout } = agent.command(port);
  const log = openSync(join(logDir, `${agent.name.replace(/\W/g, '_')}-${port}.log`), 'a');
  const started = performance.now();
  const child = spawn(file, args, { env, stdio: ['ignore', logToStdout ? log : 'ignore', log] });
  closeSync(log);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${agent.name} exited with ${child.exitCode} (logs in ${logDir})`);
    if ((await getStatus(port)) === 200) break;
    if (performance.now() - started > 120_000) {
      await stop(child);
      throw new Error(`${agent.name} did not answer within 120 s`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { ms: performance.now() - started, rss: rssMiB(child.pid), child, port };
}

async function latency(client, method, path, body, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await client.request(method, path, body);
    samples.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return summarize(samples);
}

const node = (uuid) => ({ uuid, properties: {}, instance_info: {}, driver_internal_info: {} });
const stepsCall = (uuid) => ({ name: 'clean.get_clean_steps', params: { node: node(uuid), ports: [] } });
const KNOWN_NODE = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123';
const results = new Map(agents.map((a) => [a.name, {}]));

async function measureStarts(agent) {
  const times = [];
  for (let i = 0; i < STARTS; i++) {
    const s = await start(agent);
    times.push(s.ms);
    await stop(s.child);
  }
  results.get(agent.name).start = summarize(times).p50;
}

async function measureService(agent) {
  const r = results.get(agent.name);
  const s = await start(agent);
  r.rssFirst = s.rss;
  const client = keepAliveClient(s.port);
  try {
    await latency(client, 'POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE), 20); // warm-up, node seen
    r.status = await latency(client, 'GET', '/v1/status', undefined, STATUS_N);
    r.steps = await latency(client, 'POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE), STEPS_N);
    const fresh = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await client.request('POST', '/v1/commands/?wait=true', stepsCall(`00000000-0000-4000-8000-00000000000${i}`));
      fresh.push(performance.now() - t);
    }
    r.newNode = summarize(fresh).p50;
    r.inventory = (
      await latency(client, 'POST', '/v1/commands/?wait=true', { name: 'poll.get_hardware_info', params: {} }, 3)
    ).p50;
    r.rssAfter = rssMiB(s.child.pid);
  } finally {
    client.close();
    await stop(s.child);
  }
}

async function measureCommandList(agent) {
  const s = await start(agent);
  const client = keepAliveClient(s.port);
  try {
    for (let i = 0; i < 420; i++) await client.request('POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE));
    results.get(agent.name).list = (await latency(client, 'GET', '/v1/commands/', undefined, 50)).p50;
  } finally {
    client.close();
    await stop(s.child);
  }
}

const loadBefore = loadavg();
try {
  for (const phase of [measureStarts, measureService, measureCommandList]) {
    for (const agent of agents) await phase(agent);
  }
} finally {
  rmSync(logDir, { recursive: true, force: true });
}
const loadAfter = loadavg();

const cell = (name, f) => {
  const r = results.get(name);
  return r ? f(r) : '—';
};
const rows = [
  ['start → first 200 on /v1/status (ms, median)', (r) => fmt(r.start, 0), '≤ 110'],
  ['GET /v1/status p50 / p99 (ms)', (r) => `${fmt(r.status.p50, 2)} / ${fmt(r.status.p99, 2)}`, 'p99 ≤ 0.5'],
  ['clean.get_clean_steps p50 / p99 (ms)', (r) => `${fmt(r.steps.p50, 2)} / ${fmt(r.steps.p99, 2)}`, '≤ 0.3 / ≤ 1'],
  ['GET /v1/commands/ after 420 results p50 (ms)', (r) => fmt(r.list, 2), '≤ 2'],
  ['new node get_clean_steps, inventory p50 (ms)', (r) => `${fmt(r.newNode, 1)}, ${fmt(r.inventory, 0)}`, '≤ 5, ≤ 100'],
  ['RSS at first answer / after load (MiB)', (r) => `${fmt(r.rssFirst, 1)} / ${fmt(r.rssAfter, 1)}`, '≤ 60 / ≤ 64'],
];
const header = ['', ...agents.map((a) => (a === ours ? 'ours (bin/ramdisk-agent)' : `${a.name}, same run`)), 'goal'];
const table = rows.map(([label, f, goal]) => [label, ...agents.map((a) => cell(a.name, f)), goal]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(
  `\nbench/ipa-side-by-side — node ${process.version}, ${cpus().length} cores, load average ${loadBefore
    .map((l) => l.toFixed(2))
    .join(' ')} before / ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`,
);
console.log(`n = ${STATUS_N} status, ${STEPS_N} steps requests; ${STARTS} start-ups each\n`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
