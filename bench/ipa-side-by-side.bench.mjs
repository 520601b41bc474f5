// bench/ipa-side-by-side: ramdisk-agent and ironic-python-agent 9.4.3 started on this machine in
// the same run, measured by the same client (one keep-alive HTTP/1.1 connection, requests one
// after another, as ../shared/reference/ipa-baseline.md), printed in one table.
// Both log at INFO into a file; both run standalone on 127.0.0.1. Start-ups alternate; for the
// latency rows both run at once and requests alternate between them one by one, so background
// load hits both alike; beside wall time, each agent's own CPU time per request (schedstat, not
// inflated by waiting for a core). The load average and core count are printed with the table.
//   BENCH_SIDE_STARTS   start-ups per agent (median reported), default 5
//   BENCH_SIDE_REQUESTS requests per latency row, default 2000 (status) / 1000 (steps): a p99
//                       of 200 was the second-slowest request, and moved by a third between runs
//   BENCH_SIDE_WARMUP   requests of each kind before the latency rows, default 200
//   BENCH_NODE22        a Node 22 binary: the agent also runs on it, as in the ramdisk
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, fmt, keepAliveClient, rssAnonMiB, rssMiB, stop, summarize } from './lib.mjs';
import { IPA_TAG, prepareIpa } from './ipa-runtime.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const STARTS = Number(process.env.BENCH_SIDE_STARTS ?? 5);
const STATUS_N = Number(process.env.BENCH_SIDE_REQUESTS ?? 2000);
const STEPS_N = Math.max(50, Math.round(STATUS_N * 0.5));
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
// The ramdisk runs the agent on Node 22 (image/), this host has Node 20: with BENCH_NODE22 naming a
// Node 22 binary, the same launcher runs once more on it (its `exec node` follows PATH), with a
// compile cache as the image prepares one (the first start fills it).
const node22 = process.env.BENCH_NODE22;
const node22Version = node22 && execFileSync(node22, ['--version'], { encoding: 'utf8' }).trim();
const oursOn22 = node22 && {
  name: 'ramdisk-agent on Node 22',
  command: (port) => ({
    ...ours.command(port),
    env: { ...process.env, PATH: `${dirname(node22)}:${process.env.PATH}`, NODE_COMPILE_CACHE: join(logDir, 'node22-cache') },
  }),
};
const agents = [ours, ...(oursOn22 ? [oursOn22] : []), ...(ipa ? [ipa] : [])];
// Not agents: the floor Node's own HTTP stack sets on this machine under this load, with V8's
// defaults, and with the V8 flags bin/ramdisk-agent runs the agent with (read from that script, so
// they cannot drift). --max-opt=2 keeps TurboFan off, and Node's own HTTP code then runs
// unoptimised too: the second floor is the least our configuration can cost.
const agentFlags = readFileSync(join(root, 'bin', 'ramdisk-agent'), 'utf8')
  .match(/^exec node (.*?) "\$here/m)?.[1]
  .split(' ');
if (!agentFlags) throw new Error('bin/ramdisk-agent has no "exec node <flags> $here/..." line to read the flags from');
const floorOf = (name, flags) => ({
  name,
  floor: true,
  command: (port) => ({
    file: process.execPath,
    args: [...flags, join(root, 'bench', 'http-floor.mjs'), String(port)],
    env: process.env,
  }),
});
const floors = [floorOf('bare node:http', []), floorOf(`bare node:http ${agentFlags.join(' ')}`, agentFlags)];
const servers = [...agents, ...floors];
const WARM_UP = Number(process.env.BENCH_SIDE_WARMUP ?? 200);

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
  return {
    ms: performance.now() - started,
    cpu: cpuMs(child.pid),
    rss: rssMiB(child.pid),
    anon: rssAnonMiB(child.pid),
    child,
    port,
  };
}

/**
 * `n` requests to each target, interleaved one by one (who goes first alternates), so load
 * from other processes falls on both alike. Per target: wall time of each request, and the
 * server's CPU time per request: the windows between the starts of consecutive requests
 * cover everything it did, including work after the answer was sent (logging, GC).
 */
async function interleaved(targets, method, path, body, n) {
  const walls = targets.map(() => []);
  const cpuMarks = targets.map(() => []);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < targets.length; k++) {
      const index = i % 2 === 0 ? k : targets.length - 1 - k;
      const { client, pid } = targets[index];
      const payload = typeof body === 'function' ? body(i) : body;
      cpuMarks[index].push(cpuMs(pid));
      const t = performance.now();
      const res = await client.request(method, path, payload);
      walls[index].push(performance.now() - t);
      if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
  }
  await new Promise((r) => setTimeout(r, 50)); // let the last request's after-work finish
  return targets.map(({ pid }, index) => {
    const marks = [...cpuMarks[index], cpuMs(pid)];
    const cpu = marks.slice(1).map((m, k) => m - marks[k]);
    return { wall: summarize(walls[index]), cpu: summarize(cpu) };
  });
}

const node = (uuid) => ({ uuid, properties: {}, instance_info: {}, driver_internal_info: {} });
const stepsCall = (uuid) => ({ name: 'clean.get_clean_steps', params: { node: node(uuid), ports: [] } });
const KNOWN_NODE = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123';
const results = new Map(servers.map((a) => [a.name, {}]));

/** Start-ups alternate between the agents; wall time and CPU used by the first answer. */
async function measureStarts() {
  const times = new Map(servers.map((a) => [a.name, { wall: [], cpu: [] }]));
  for (let i = 0; i < STARTS; i++) {
    for (const agent of i % 2 === 0 ? servers : [...servers].reverse()) {
      const s = await start(agent);
      times.get(agent.name).wall.push(s.ms);
      times.get(agent.name).cpu.push(s.cpu);
      await stop(s.child);
    }
  }
  for (const [name, t] of times) {
    results.get(name).start = summarize(t.wall).p50;
    results.get(name).startCpu = summarize(t.cpu).p50;
  }
}

async function startAll(which) {
  const started = [];
  try {
    for (const agent of which) {
      const s = await start(agent);
      started.push({ agent, ...s, pid: s.child.pid, client: keepAliveClient(s.port) });
    }
  } catch (error) {
    await stopAll(started);
    throw error;
  }
  return started;
}

async function stopAll(started) {
  for (const s of started) {
    s.client?.close();
    await stop(s.child);
  }
}

function record(started, key, measured) {
  started.forEach((s, index) => (results.get(s.agent.name)[key] = measured[index]));
}

async function measureService() {
  const started = await startAll(servers);
  const agentsOnly = started.filter((s) => !s.agent.floor);
  try {
    for (const s of started) Object.assign(results.get(s.agent.name), { rssFirst: s.rss, anonFirst: s.anon });
    // Warmed up as a long-running agent is (V8 compiles the hot paths; Python has nothing to warm).
    await interleaved(started, 'POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE), WARM_UP);
    await interleaved(started, 'GET', '/v1/status', undefined, WARM_UP);
    record(started, 'status', await interleaved(started, 'GET', '/v1/status', undefined, STATUS_N));
    record(started, 'steps', await interleaved(started, 'POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE), STEPS_N));
    const fresh = (i) => stepsCall(`00000000-0000-4000-8000-00000000000${i}`);
    record(agentsOnly, 'newNode', await interleaved(agentsOnly, 'POST', '/v1/commands/?wait=true', fresh, 5));
    const inventory = { name: 'poll.get_hardware_info', params: {} };
    record(agentsOnly, 'inventory', await interleaved(agentsOnly, 'POST', '/v1/commands/?wait=true', inventory, 3));
    for (const s of started) Object.assign(results.get(s.agent.name), { rssAfter: rssMiB(s.pid), anonAfter: rssAnonMiB(s.pid) });
  } finally {
    await stopAll(started);
  }
}

async function measureCommandList() {
  const started = await startAll(servers);
  try {
    await interleaved(started, 'POST', '/v1/commands/?wait=true', stepsCall(KNOWN_NODE), 420);
    record(started, 'list', await interleaved(started, 'GET', '/v1/commands/', undefined, 50));
    for (const s of started) {
      const res = await s.client.request('GET', '/v1/commands/');
      results.get(s.agent.name).listKiB = Buffer.byteLength(res.body) / 1024;
    }
  } finally {
    await stopAll(started);
  }
}

const loadBefore = loadavg();
try {
  for (const phase of [measureStarts, measureService, measureCommandList]) await phase();
} finally {
  rmSync(logDir, { recursive: true, force: true });
}
const loadAfter = loadavg();

const cell = (name, f) => {
  try {
    return f(results.get(name));
  } catch {
    return '—'; // not measured for this one (the floor has no inventory or nodes)
  }
};
const pair = (m, digits = 2) => `${fmt(m.p50, digits)} / ${fmt(m.p99, digits)}`;
const rows = [
  ['start → first 200 on /v1/status (ms, median): wall, CPU', (r) => `${fmt(r.start, 0)}, ${fmt(r.startCpu, 0)}`, '≤ 110'],
  ['GET /v1/status p50 / p99 (ms, wall)', (r) => pair(r.status.wall), 'p99 ≤ 0.5'],
  ['  server CPU per request p50 / p99 (ms)', (r) => pair(r.status.cpu, 3), ''],
  ['clean.get_clean_steps p50 / p99 (ms, wall)', (r) => pair(r.steps.wall), '≤ 0.3 / ≤ 1'],
  ['  server CPU per request p50 / p99 (ms)', (r) => pair(r.steps.cpu, 3), ''],
  ['GET /v1/commands/ after 420 results p50 (ms, wall)', (r) => fmt(r.list.wall.p50, 2), '≤ 2'],
  ['  server CPU p50 (ms); body (KiB)', (r) => `${fmt(r.list.cpu.p50, 3)}; ${fmt(r.listKiB, 0)}`, ''],
  [
    'new node get_clean_steps, inventory p50 (ms, wall)',
    (r) => `${fmt(r.newNode.wall.p50, 1)}, ${fmt(r.inventory.wall.p50, 0)}`,
    '≤ 5, ≤ 100',
  ],
  ['RSS at first answer / after load (MiB)', (r) => `${fmt(r.rssFirst, 1)} / ${fmt(r.rssAfter, 1)}`, '≤ 60 / ≤ 64'],
  ['  of which anonymous (not file pages) (MiB)', (r) => `${fmt(r.anonFirst, 1)} / ${fmt(r.anonAfter, 1)}`, ''],
];
const label = (a) =>
  a === ours
    ? 'ours (bin/ramdisk-agent)'
    : a === oursOn22
      ? `ours on Node 22 (${node22Version})`
      : a === floors[0]
        ? 'floor: bare node:http'
        : a === floors[1]
          ? "floor, agent's V8 flags"
          : `${a.name}, same run`;
const header = ['', ...servers.map(label), 'goal'];
const table = rows.map(([text, f, goal]) => [text, ...servers.map((a) => cell(a.name, f)), goal]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(
  `\nbench/ipa-side-by-side — node ${process.version}, ${cpus().length} cores, load average ${loadBefore
    .map((l) => l.toFixed(2))
    .join(' ')} before / ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`,
);
console.log(
  `n = ${STATUS_N} status, ${STEPS_N} steps requests; ${STARTS} start-ups each, alternating. Latency: wall time, one\n` +
    'keep-alive connection per agent, requests interleaved one by one between the agents (who goes first alternates),\n' +
    "so other workers' load falls on both alike. Server CPU: the agent's CPU time (all threads, schedstat) between the\n" +
    'starts of consecutive requests, which waiting for a busy core does not inflate. Each server gets\n' +
    `${WARM_UP} get_clean_steps and ${WARM_UP} status requests first (BENCH_SIDE_WARMUP). The floor: a bare node:http\n` +
    'server answering the same requests with fixed bodies of the same size, the least Node itself costs here; run\n' +
    `again with the agent's V8 flags (${agentFlags.join(' ')}): no TurboFan for Node's own code either.\n`,
);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
