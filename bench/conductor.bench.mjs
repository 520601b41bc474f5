// bench/conductor: how long the conductor takes per in-band step. A manual clean of N
// `erase_devices_metadata` steps (a 16 MiB sparse file, fast track so no reboots) driven by
// `ramdisk-agent conductor serve` through heartbeats, beside the floor measured in the same
// run: the same N steps POSTed straight to a standalone agent and polled every 5 ms.
// The difference is the heartbeat-driven design: a finished step is noticed at the agent's
// next heartbeat (heartbeat_timeout × U(0.3, 0.6); `--heartbeat-timeout 1` here, Ironic's
// default 300 s, with a forced heartbeat after a command only if 5 s passed since the last).
// BENCH_CONDUCTOR_STEPS (default 10).
import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, stop } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const STEPS = Number(process.env.BENCH_CONDUCTOR_STEPS ?? 10);
const cli = `${root}dist/ramdisk-agent.mjs`;

const freePort = () =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

const macs = () =>
  readdirSync('/sys/class/net')
    .filter((n) => n !== 'lo')
    .map((n) => readFileSync(`/sys/class/net/${n}/address`, 'utf8').trim())
    .filter((m) => m && m !== '00:00:00:00:00:00');

async function api(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-openstack-ironic-api-version': '1.82' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-conductor-'));
const disk = join(dir, 'disk.img');
const fd = openSync(disk, 'w');
ftruncateSync(fd, 16 * 1024 * 1024);
closeSync(fd);
const children = [];
const common = [
  '--power-actions',
  'simulate',
  '--cmdline',
  '/dev/null',
  '--allow-device',
  disk,
  '--log-level',
  'warn',
  '--no-auto-tls',
];
try {
  // --- through the conductor
  const cport = await freePort();
  const base = `http://127.0.0.1:${cport}`;
  children.push(
    spawn(
      process.execPath,
      [
        cli,
        'conductor',
        'serve',
        '--listen',
        `127.0.0.1:${cport}`,
        '--db',
        join(dir, 'c.sqlite'),
        '--heartbeat-timeout',
        '1',
        '--log-level',
        'warn',
      ],
      { stdio: 'ignore' },
    ),
  );
  await until('the conductor', () =>
    fetch(`${base}/v1/nodes`).then(
      () => true,
      () => false,
    ),
  );
  const node = await api(base, 'POST', '/v1/nodes', {
    name: 'bench',
    deploy_interface: 'direct',
    automated_clean: false,
    driver_info: { fast_track: true },
  });
  for (const mac of macs()) await api(base, 'POST', '/v1/ports', { node_uuid: node.uuid, address: mac });
  await api(base, 'PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'manage' });
  await api(base, 'PUT', `/v1/nodes/${node.uuid}/states/power`, { target: 'power on' });
  children.push(
    spawn(
      process.execPath,
      [cli, 'agent', '--api-url', base, '--listen', '127.0.0.1:0', '--advertise-host', '127.0.0.1', ...common],
      { stdio: 'ignore' },
    ),
  );
  await until(
    'the agent to heartbeat',
    async () => (await api(base, 'GET', `/v1/nodes/${node.uuid}`)).driver_internal_info.agent_url,
  );
  const steps = Array.from({ length: STEPS }, () => ({ interface: 'deploy', step: 'erase_devices_metadata' }));
  const t0 = performance.now();
  await api(base, 'PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'clean', clean_steps: steps });
  const end = await until('the clean', async () => {
    const n = await api(base, 'GET', `/v1/nodes/${node.uuid}`);
    return n.provision_state === 'manageable' || n.provision_state === 'clean failed' ? n : undefined;
  });
  const viaConductor = performance.now() - t0;
  if (end.provision_state !== 'manageable') throw new Error(`clean failed: ${end.last_error}`);

  // --- floor: straight to a standalone agent
  const aport = await freePort();
  const token = 'bench-conductor-token-0123456789abcdef';
  children.push(
    spawn(process.execPath, [cli, 'agent', '--standalone', '--agent-token', token, '--listen', `127.0.0.1:${aport}`, ...common], {
      stdio: 'ignore',
    }),
  );
  const agent = `http://127.0.0.1:${aport}`;
  await until('the standalone agent', () =>
    fetch(`${agent}/v1/status`).then(
      () => true,
      () => false,
    ),
  );
  const t1 = performance.now();
  for (let i = 0; i < STEPS; i++) {
    const started = await api(agent, 'POST', `/v1/commands/?wait=false&agent_token=${token}`, {
      name: 'clean.execute_clean_step',
      params: { step: { interface: 'deploy', step: 'erase_devices_metadata', priority: 0 }, node: {}, ports: [] },
    });
    const done = await until('the step', async () => {
      const c = await api(agent, 'GET', `/v1/commands/${started.id}?agent_token=${token}`);
      return c.command_status !== 'RUNNING' ? c : undefined;
    });
    if (done.command_status !== 'SUCCEEDED') throw new Error(`step failed: ${JSON.stringify(done.command_error)}`);
  }
  const direct = performance.now() - t1;

  console.log(`${STEPS} × erase_devices_metadata on a 16 MiB file`);
  console.log(
    `  through the conductor (heartbeats every 0.3–0.6 s)  total ${fmt(viaConductor, 0)} ms  per step ${fmt(viaConductor / STEPS, 0)} ms`,
  );
  console.log(
    `  floor: POST + poll every 5 ms, no conductor          total ${fmt(direct, 0)} ms  per step ${fmt(direct / STEPS, 0)} ms`,
  );
  console.log(
    `  conductor overhead per step                           ${fmt((viaConductor - direct) / STEPS, 0)} ms (≈ waiting for the next heartbeat)`,
  );
} finally {
  for (const child of children) await stop(child);
  rmSync(dir, { recursive: true, force: true });
}
