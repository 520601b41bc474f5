// bench/lookup: from starting the built agent to its first heartbeat, against a minimal
// conductor on 127.0.0.1 that answers the lookup with a token and accepts heartbeats (202).
// Printed: start → lookup request, lookup → first heartbeat (resolving the advertised
// address, serving the API, and with auto-TLS making the certificate), start → heartbeat.
// Floor, same run: a bare `node` process that does one GET and one POST to the same
// conductor. Median of BENCH_LOOKUP_RUNS (default 5) for plain HTTP (conductor API 1.62)
// and auto-TLS (1.68). IPA publishes no such figure; its start alone is 1.0–1.2 s here.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { fmt, stop, summarize } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_LOOKUP_RUNS ?? 5);

/** Records when the lookup and the first heartbeat arrive. */
function startConductor(version) {
  let marks = {};
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const now = performance.now();
      if (req.method === 'GET' && req.url === '/') {
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ default_version: { version } }));
      }
      if (req.method === 'GET' && req.url.startsWith('/v1/lookup')) {
        marks.lookup ??= now;
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify({
            node: { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: {}, instance_info: {}, driver_internal_info: {} },
            config: { heartbeat_timeout: 300, agent_token: randomBytes(32).toString('base64url'), agent_token_required: true },
          }),
        );
      }
      if (req.method === 'POST' && req.url.startsWith('/v1/heartbeat/')) {
        if (marks.heartbeat === undefined) {
          marks.heartbeat = now;
          marks.tls = JSON.parse(body).agent_verify_ca !== undefined;
          marks.resolve?.();
        }
        res.statusCode = 202;
        return res.end();
      }
      res.statusCode = 404;
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        arm() {
          marks = {};
          return new Promise((r) => (marks.resolve = r)).then(() => marks);
        },
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

async function agentRun(conductor, port) {
  const done = conductor.arm();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      `${root}dist/ramdisk-agent.mjs`,
      'agent',
      '--api-url',
      conductor.url,
      '--listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      '--cmdline',
      '/dev/null',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const marks = await Promise.race([
    done,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no heartbeat in 20 s')), 20_000)),
  ]);
  await stop(child);
  return {
    toLookup: marks.lookup - started,
    lookupToHeartbeat: marks.heartbeat - marks.lookup,
    total: marks.heartbeat - started,
    tls: marks.tls,
  };
}

async function floorRun(conductor) {
  const done = conductor.arm();
  const started = performance.now();
  const script = `const u=${JSON.stringify(conductor.url)};(async()=>{await fetch(u+'/v1/lookup?addresses=x');await fetch(u+'/v1/heartbeat/x',{method:'POST',body:'{}'});})()`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  const marks = await done;
  await stop(child);
  return {
    toLookup: marks.lookup - started,
    lookupToHeartbeat: marks.heartbeat - marks.lookup,
    total: marks.heartbeat - started,
  };
}

function median(runs, key) {
  return summarize(runs.map((r) => r[key])).p50;
}

console.log('median of', RUNS, 'runs, ms                    start→lookup  lookup→heartbeat  start→heartbeat');
let port = 19_900;
for (const [label, version] of [
  ['ours, plain HTTP (conductor API 1.62)', '1.62'],
  ['ours, auto-TLS (conductor API 1.68)  ', '1.68'],
]) {
  const conductor = await startConductor(version);
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await agentRun(conductor, port++));
  await conductor.close();
  if (runs.some((r) => r.tls !== (version === '1.68'))) throw new Error('auto-TLS was not used as expected');
  console.log(
    `  ${label}  ${fmt(median(runs, 'toLookup')).padStart(12)}  ${fmt(median(runs, 'lookupToHeartbeat')).padStart(16)}  ${fmt(median(runs, 'total')).padStart(15)}`,
  );
}
const conductor = await startConductor('1.62');
const floor = [];
for (let i = 0; i < RUNS; i++) floor.push(await floorRun(conductor));
await conductor.close();
console.log(
  `  floor: bare node, one GET + one POST     ${fmt(median(floor, 'toLookup')).padStart(12)}  ${fmt(median(floor, 'lookupToHeartbeat')).padStart(16)}  ${fmt(median(floor, 'total')).padStart(15)}`,
);
