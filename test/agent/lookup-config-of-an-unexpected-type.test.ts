/**
 * The lookup answer carrying the one-time token is the only one the agent gets: Ironic
 * answers "******" to every later lookup. A key of the lookup's `config` the agent reads but
 * does not need (the TLS floor, the cipher list, the skip-BMC flag) that arrives with
 * another type than expected (another Ironic release, a proxy rewriting JSON) must not cost
 * that answer: it is ignored by name, as lookup-settings.ts does for the image settings, and
 * the token is kept. No log line or error carries the token from a body it could not use.
 */
import { describe, expect, it, afterEach } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { parseLookupResponse } from '../../src/agent/heartbeat/lookup.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

const TOKEN = 'T0kEn'.repeat(9);

let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  await conductor?.close();
  agent = conductor = undefined;
});

describe('a lookup config key of an unexpected type', () => {
  it('is ignored: the agent keeps the token of that one answer and serves with it', async () => {
    conductor = await FakeConductor.start();
    // As if an Ironic sent its cipher list as a list and the skip flag as a string.
    conductor.lookupConfigExtra = { tls_cipher_suites: ['ECDHE-RSA-AES128-GCM-SHA256'], agent_skip_bmc_detect: 'yes' };
    const node = conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    const heartbeat = conductor.nextHeartbeat();
    agent = await startTestAgent(
      {
        standalone: false,
        agentToken: undefined,
        apiUrls: [conductor.url],
        lookupInterval: 0.05,
        lookupTimeout: 5,
        enableAutoTls: false,
      },
      { logLevel: 'info' },
    );
    expect(agent.serving).toBe(true);
    expect(conductor.lookups.map((l) => l.status)).toEqual([200]);
    expect((await heartbeat).status).toBe(202);
    expect((await new AgentTestClient(agent.url, node.token).list()).status).toBe(200);
    const log = agent.services.logBuffer.text();
    expect(log).toMatch(/tls_cipher_suites/);
    expect(log).toMatch(/agent_skip_bmc_detect/);
    expect(log).not.toContain(node.token);
  });

  it('a body that cannot be used is reported without the token in it', () => {
    const body = JSON.stringify({ node: { name: 'no-uuid' }, config: { heartbeat_timeout: 300, agent_token: TOKEN } });
    const reason = parseLookupResponse(body);
    expect(reason).toMatch(/invalid node data/);
    expect(reason).not.toContain(TOKEN);
  });
});
