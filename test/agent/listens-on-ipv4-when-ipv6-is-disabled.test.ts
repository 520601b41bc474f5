/**
 * Without an operator's listen address the agent listens where IPA does: `::`, or `0.0.0.0`
 * when the kernel has IPv6 disabled (oslo's is_ipv6_enabled: /proc/sys/net/ipv6/conf/default/
 * disable_ipv6 missing or not 0), which a kernel booted with ipv6.disable=1 needs: binding
 * `::` fails there, after the lookup took the token. The probe reads a /proc tree laid out
 * as the kernel's (this machine has IPv6); the agent then really listens on 0.0.0.0 and its
 * heartbeat's callback URL reaches it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import type { AgentConfigInput } from '../../src/agent/config/schema.js';
import { ipv6Enabled, listenHost } from '../../src/agent/http/listen-address.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
const agents: RunningAgent[] = [];
const dirs: string[] = [];
let conductor: FakeConductor | undefined;
let macs: string[] = [];

beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await conductor?.close();
  conductor = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A /proc with the IPv6 sysctl as the kernel shows it: absent (ipv6.disable=1), or 0 / 1. */
function procTree(disableIpv6: '0' | '1' | undefined): string {
  const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-proc-'));
  dirs.push(root);
  if (disableIpv6 !== undefined) {
    const dir = join(root, 'sys/net/ipv6/conf/default');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'disable_ipv6'), `${disableIpv6}\n`);
  }
  return root;
}

function recordingLogger(lines: string[]): Logger {
  const record = (obj: object | string, msg?: string) => void lines.push(typeof obj === 'string' ? obj : (msg ?? ''));
  return { ...silentLogger, info: record, warn: record };
}

async function start(overrides: Partial<AgentConfigInput>, procRoot: string): Promise<RunningAgent> {
  const config = mergeConfig({
    flags: {
      standalone: true,
      agentToken: TOKEN,
      listenPort: 0,
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
      discoverInstalledPlugins: false,
      ...overrides,
    },
  });
  const agent = await startAgent({ config, logger: false, procRoot });
  agents.push(agent);
  return agent;
}

const answers = (url: string) =>
  fetch(`${url}/v1/status`).then(
    (r) => r.ok,
    () => false,
  );

describe('the IPv6 probe (oslo is_ipv6_enabled)', () => {
  it('says enabled only when default/disable_ipv6 reads 0', () => {
    expect(ipv6Enabled(procTree('0'))).toBe(true);
    expect(ipv6Enabled(procTree('1'))).toBe(false);
    expect(ipv6Enabled(procTree(undefined))).toBe(false);
  });

  it('reads this machine as its kernel says', () => {
    let expected = false;
    try {
      expected = readFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', 'utf8').trim() === '0';
    } catch {
      // no IPv6 in this kernel
    }
    expect(ipv6Enabled()).toBe(expected);
  });
});

describe('the listen address', () => {
  it('is :: with IPv6, 0.0.0.0 (logged) without; an operator address is kept whatever the kernel', () => {
    const lines: string[] = [];
    const log = recordingLogger(lines);
    expect(listenHost(undefined, log, procTree('0'))).toBe('::');
    expect(lines).toEqual([]);
    expect(listenHost(undefined, log, procTree(undefined))).toBe('0.0.0.0');
    expect(lines).toEqual(['IPv6 is disabled on this machine: the API listens on 0.0.0.0 (IPv4) instead of ::']);
    expect(listenHost('::', log, procTree(undefined))).toBe('::');
    expect(listenHost('10.0.0.5', log, procTree('0'))).toBe('10.0.0.5');
    expect(lines).toHaveLength(1);
  });

  it('without IPv6, the agent listens on 0.0.0.0 and answers on 127.0.0.1, not on ::1', async () => {
    const agent = await start({}, procTree(undefined));
    const address = agent.app.server.address() as AddressInfo;
    expect(address).toMatchObject({ address: '0.0.0.0', family: 'IPv4' });
    expect(agent.url).toBe(`http://0.0.0.0:${agent.port}`);
    expect(await answers(`http://127.0.0.1:${agent.port}`)).toBe(true);
    expect(await answers(`http://[::1]:${agent.port}`)).toBe(false);
  });

  it('with IPv6, the agent listens on :: as before', async () => {
    const agent = await start({}, procTree('0'));
    expect(agent.app.server.address()).toMatchObject({ address: '::', family: 'IPv6' });
    expect(agent.url).toBe(`http://[::]:${agent.port}`);
    expect(await answers(`http://127.0.0.1:${agent.port}`)).toBe(true);
  });

  it('without IPv6, the heartbeat callback URL is an IPv4 address the API answers on', async () => {
    expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    const node = conductor.addNode(macs);
    const heartbeat = conductor.nextHeartbeat();
    const agent = await start(
      { standalone: false, agentToken: undefined, apiUrls: [conductor.url], lookupInterval: 0.05, enableAutoTls: false },
      procTree(undefined),
    );
    expect(agent.app.server.address()).toMatchObject({ address: '0.0.0.0' });
    const { body } = await heartbeat;
    // No --advertise-host: the source address of the route to the conductor (127.0.0.1).
    expect(body.callback_url).toBe(`http://127.0.0.1:${agent.port}`);
    expect(body.agent_token).toBe(node.token);
    expect(await answers(body.callback_url as string)).toBe(true);
  });
});
