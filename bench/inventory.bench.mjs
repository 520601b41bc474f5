// bench/inventory: how long `poll.get_hardware_info` takes end to end (HTTP round trip to
// the built agent, inventory collected fresh every time), beside the floor measured in the
// same run (spawning the tools the inventory needs, one after the other, doing nothing with
// their output) and IPA 9.4.3's figure on this machine class (ipa-baseline.md: 450–510 ms
// without lshw/ipmitool). Goal: ≤ 100 ms.
//   BENCH_INVENTORY_RUNS  requests (default 30; the first one is reported apart, cold)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, keepAliveClient, stop, summarize, timeToFirstAnswer } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_INVENTORY_RUNS ?? 30);
const PORT = 19_870;
const TOKEN = 'bench-token-0123456789abcdef0123456789';

function toolsFloorMs() {
  const started = performance.now();
  for (const [cmd, ...args] of [
    ['ip', '-j', '-d', 'addr', 'show'],
    ['lscpu'],
    [
      'lsblk',
      '--json',
      '--bytes',
      '--all',
      '--output',
      'NAME,KNAME,PATH,MAJ:MIN,PKNAME,TYPE,SIZE,MODEL,VENDOR,SERIAL,WWN,ROTA,HCTL,RO,RM,TRAN,LOG-SEC,PHY-SEC',
    ],
  ]) {
    spawnSync(cmd, args, { stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' } });
  }
  return performance.now() - started;
}

const { child } = await timeToFirstAnswer(
  process.execPath,
  [
    `${root}dist/ramdisk-agent.mjs`,
    'agent',
    '--standalone',
    '--agent-token',
    TOKEN,
    '--listen',
    `127.0.0.1:${PORT}`,
    '--log-level',
    'warn',
    '--cmdline',
    '/dev/null',
  ],
  `http://127.0.0.1:${PORT}/v1/status`,
);
try {
  const client = keepAliveClient(PORT);
  const samples = [];
  let cold = NaN;
  let keys = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const res = await client.request('POST', `/v1/commands/?wait=true&agent_token=${TOKEN}`, {
      name: 'poll.get_hardware_info',
      params: {},
    });
    const ms = performance.now() - t;
    const body = JSON.parse(res.body);
    if (res.status !== 200 || body.command_status !== 'SUCCEEDED') throw new Error(`get_hardware_info failed: ${res.body}`);
    keys = Object.keys(body.command_result);
    if (i === 0) cold = ms;
    else samples.push(ms);
  }
  client.close();
  const floor = summarize(Array.from({ length: 10 }, toolsFloorMs));
  const ours = summarize(samples);
  console.log(`inventory keys: ${keys.join(', ')}`);
  console.log('                                              p50 ms    p99 ms');
  console.log(
    `  ours: poll.get_hardware_info over HTTP    ${fmt(ours.p50).padStart(8)}  ${fmt(ours.p99).padStart(8)}   (first call ${fmt(cold)} ms)`,
  );
  console.log(`  floor: spawn ip + lscpu + lsblk serially  ${fmt(floor.p50).padStart(8)}  ${fmt(floor.p99).padStart(8)}`);
  console.log('  IPA 9.4.3 (ipa-baseline.md)               450–510');
  console.log(`  goal                                      ≤ 100      ${ours.p50 <= 100 ? 'met' : 'NOT met'}`);
} finally {
  await stop(child);
}
