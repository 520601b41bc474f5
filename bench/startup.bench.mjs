// bench/startup: where the agent's start-up goes, in a form that survives a loaded machine.
// Wall-clock start-up on a shared 2-core box swings by seconds; the CPU the process has used
// when it first answers (/proc/PID/stat) and a CPU profile's split of it do not. Printed beside
// a bare Node HTTP server (the floor Node itself sets here), start-ups alternating between the
// two, on this node, and on Node 22 with its compile cache when BENCH_NODE22 names a Node 22
// binary (the ramdisk's node).
//   BENCH_STARTUP_RUNS  start-ups per row (median), default 7
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, rssMiB, stop, summarize } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const bundle = join(root, 'dist', 'ramdisk-agent.mjs');
const agentArgs = (port) => [
  'agent',
  '--standalone',
  '--listen',
  `127.0.0.1:${port}`,
  '--log-level',
  'warn',
  '--cmdline',
  '/dev/null',
];
const bareServer = (port) => [
  '-e',
  `require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end('{}')}).listen(${port},'127.0.0.1')`,
];
let nextPort = 19850 + Math.floor(Math.random() * 100);

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100); // clock ticks of 10 ms
}

function answered(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/status', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
  });
}

async function startOnce(file, args, env) {
  const port = nextPort++;
  const started = performance.now();
  const child = spawn(file, args(port), { env: { ...process.env, ...env }, stdio: 'ignore' });
  while (!(await answered(port))) {
    if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const sample = {
    wall: performance.now() - started,
    cpu: cpuMs(child.pid),
    rss: rssMiB(child.pid),
    // CLOCK_MONOTONIC in µs: the clock of a V8 CPU profile's timestamps, in any process.
    answeredAtUs: Number(process.hrtime.bigint() / 1000n),
  };
  await stop(child);
  return sample;
}

/**
 * Start-ups alternate between the agent and its floor (who goes first alternates too), so a
 * busy spell of the machine's other workers lands on both rows alike, not on one of them.
 */
async function alternatedRows(pairs) {
  const samples = pairs.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    const order = pairs.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) samples[k].push(await startOnce(pairs[k].file, pairs[k].args, pairs[k].env));
  }
  return pairs.map((pair, k) => {
    const median = (key) => summarize(samples[k].map((s) => s[key])).p50;
    return [pair.label, fmt(median('cpu'), 0), fmt(median('wall'), 0), fmt(median('rss'), 1)];
  });
}

/**
 * Splits one profiled start-up's samples up to the first answer (a standalone agent loads its
 * managers after it): GC, compiling our code, loading Node's own modules, the rest.
 */
async function profileSplit(file, extraArgs) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  try {
    const { answeredAtUs } = await startOnce(file, (port) => [
      ...extraArgs,
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      bundle,
      ...agentArgs(port),
    ]);
    const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const split = {};
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i] ?? 0;
      if (at > answeredAtUs) return;
      const stack = [];
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(nodes.get(cur).callFrame);
      const top = stack[0].functionName;
      const has = (re) => stack.some((f) => re.test(f.functionName));
      const ours = stack.some((f) => f.url.includes('/dist/'));
      const key =
        top === '(garbage collector)'
          ? 'garbage collection'
          : top === '(idle)' || top === '(program)'
            ? 'idle / V8 outside JS'
            : has(/compileForInternalLoader|compileForPublicLoader|requireBuiltin/)
              ? "loading Node's built-in modules"
              : has(/compileSourceTextModule|compileFunction/)
                ? 'compiling the bundle (no code cache)'
                : ours
                  ? 'evaluating the bundle + starting the agent'
                  : 'node bootstrap and module loader';
      split[key] = (split[key] ?? 0) + (profile.timeDeltas[i] ?? 0);
    });
    const total = Object.values(split).reduce((a, b) => a + b, 0);
    return Object.entries(split)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${`${((100 * v) / total).toFixed(0)}%`.padStart(4)}  ${k}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const launcher = join(root, 'bin', 'ramdisk-agent');
const loadBefore = loadavg();
const rows = await alternatedRows([
  { label: `ramdisk-agent, node ${process.version}`, file: launcher, args: agentArgs },
  { label: `bare node http server, node ${process.version}`, file: process.execPath, args: bareServer },
]);
const node22 = process.env.BENCH_NODE22;
if (node22) {
  const cache = mkdtempSync(join(tmpdir(), 'bench-compile-cache-'));
  const env = { PATH: `${join(node22, '..')}:${process.env.PATH}`, NODE_COMPILE_CACHE: cache };
  await startOnce(launcher, agentArgs, env); // fills the cache, as the image build does
  rows.push(
    ...(await alternatedRows([
      { label: 'ramdisk-agent, node 22 + compile cache', file: launcher, args: agentArgs, env },
      { label: 'bare node http server, node 22', file: node22, args: bareServer },
    ])),
  );
  rmSync(cache, { recursive: true, force: true });
}
// bin/ramdisk-agent's node flags, so the profile sees the heap and tiers the agent starts with.
const split = await profileSplit(process.execPath, ['--optimize-for-size', '--max-opt=2']);

console.log(
  `\nbench/startup — ${cpus().length} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; median of ${RUNS}\n`,
);
const header = ['start → first 200 on /v1/status', 'CPU used (ms)', 'wall (ms)', 'RSS (MiB)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log(`\nwhere the agent's start-up CPU goes (one --cpu-prof run, node ${process.version}):`);
for (const l of split) console.log(l);
