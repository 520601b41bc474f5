// bench/api: how fast the agent starts and answers, beside a bare Node HTTP server measured
// in the same run (the floor Node itself sets) and IPA 9.4.3's figures on this machine class
// (../shared/reference/ipa-baseline.md).
//   start → first GET /v1/status answered (median of 5)
//   get_clean_steps wait=true round trip, p50/p99 over 2,000 requests, one keep-alive connection
//   GET /v1/commands/ after 420 results, p50
//   RSS when first answering and after the load
import { fileURLToPath } from 'node:url';
import { fmt, keepAliveClient, rssMiB, stop, summarize, timeToFirstAnswer } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// The shipped launcher (bin/ramdisk-agent: node with the agent's V8 flags), as the ramdisk runs it.
const agentBin = `${root}bin/ramdisk-agent`;
const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 2000);
const node = { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: {}, instance_info: {}, driver_internal_info: {} };

async function agentStart(port) {
  return timeToFirstAnswer(
    agentBin,
    ['agent', '--standalone', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', '--cmdline', '/dev/null'],
    `http://127.0.0.1:${port}/v1/status`,
  );
}

async function bareNodeStart(port) {
  const script = `require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end('{}')}).listen(${port},'127.0.0.1')`;
  return timeToFirstAnswer(process.execPath, ['-e', script], `http://127.0.0.1:${port}/`);
}

/** Median start-up of each, alternated run by run (who goes first alternates) so both see the same load. */
async function medianStarts(starts, basePort) {
  const times = starts.map(() => []);
  for (let i = 0; i < 5; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const { ms, child } = await starts[k](basePort + 2 * i + k);
      times[k].push(ms);
      await stop(child);
    }
  }
  return times.map((t) => summarize(t).p50);
}

async function latency(client, method, path, body, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await client.request(method, path, body);
    samples.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${res.body}`);
  }
  return summarize(samples);
}

const [ourStart, bareStart] = await medianStarts([agentStart, bareNodeStart], 19100);

const { child } = await agentStart(19120);
const rssAtStart = rssMiB(child.pid);
const client = keepAliveClient(19120);
const bare = await bareNodeStart(19121);
const bareClient = keepAliveClient(19121);
try {
  await latency(client, 'POST', '/v1/commands/?wait=true', { name: 'clean.get_clean_steps', params: { node, ports: [] } }, 200); // warm-up
  const steps = await latency(
    client,
    'POST',
    '/v1/commands/?wait=true',
    { name: 'clean.get_clean_steps', params: { node, ports: [] } },
    REQUESTS,
  );
  const status = await latency(client, 'GET', '/v1/status', undefined, 500);
  const bareLatency = await latency(bareClient, 'GET', '/', undefined, 500);
  // The agent keeps the last 1000 results; measure the list at IPA's 420-result mark.
  const fresh = await agentStart(19122);
  const listClient = keepAliveClient(19122);
  await latency(
    listClient,
    'POST',
    '/v1/commands/?wait=true',
    { name: 'clean.get_clean_steps', params: { node, ports: [] } },
    420,
  );
  const list = await latency(listClient, 'GET', '/v1/commands/', undefined, 200);
  listClient.close();
  await stop(fresh.child);
  const rssAfter = rssMiB(child.pid);

  const rows = [
    ['start → first GET /v1/status (ms, median of 5)', fmt(ourStart, 0), fmt(bareStart, 0), '1,030–1,190', '≤ 110'],
    [`get_clean_steps wait=true p50 (ms, n=${REQUESTS})`, fmt(steps.p50, 3), fmt(bareLatency.p50, 3), '0.77–0.86', '≤ 0.4'],
    [`get_clean_steps wait=true p99 (ms)`, fmt(steps.p99, 3), fmt(bareLatency.p99, 3), '1.2–1.6', '≤ 1'],
    [
      'GET /v1/status p50 / p99 (ms, n=500)',
      `${fmt(status.p50, 3)} / ${fmt(status.p99, 3)}`,
      `${fmt(bareLatency.p50, 3)} / ${fmt(bareLatency.p99, 3)}`,
      '0.43 / 0.67–0.96',
      '—',
    ],
    ['GET /v1/commands/ after 420 results p50 (ms)', fmt(list.p50, 3), '—', '7.7–12.5', '≤ 2'],
    ['RSS when first answering / after load (MiB)', `${fmt(rssAtStart, 0)} / ${fmt(rssAfter, 0)}`, '—', '81 / 86', '≤ 60 / ≤ 64'],
  ];
  console.log('\nbench/api — ramdisk-agent vs a bare Node HTTP server (same run) and IPA 9.4.3 (reference figures)\n');
  const header = ['what', 'ramdisk-agent', 'bare node http', 'IPA 9.4.3', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
} finally {
  client.close();
  bareClient.close();
  await stop(child);
  await stop(bare.child);
}
