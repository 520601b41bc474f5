/**
 * Lookup and heartbeats against a fake conductor on 127.0.0.1: retries with backoff, the
 * one-time token installed and sent, re-lookup after the conductor wiped the token, an early
 * heartbeat after an async command, several API URLs, and a simulated power-off going dark.
 */
import { createServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let macs: string[] = [];
let conductor: FakeConductor | undefined;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await conductor?.close();
  conductor = undefined;
});

async function startLinkedAgent(overrides: Parameters<typeof startTestAgent>[0] = {}): Promise<RunningAgent> {
  const agent = await startTestAgent({
    standalone: false,
    agentToken: undefined,
    apiUrls: [conductor!.url],
    lookupInterval: 0.05,
    lookupTimeout: 30,
    enableAutoTls: false,
    ...overrides,
  });
  agents.push(agent);
  return agent;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('lookup and heartbeat', () => {
  it('retries a failing lookup, installs the one-time token and heartbeats with it', async () => {
    expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    const node = conductor.addNode(macs);
    conductor.failLookups = [404, 500];
    const firstHeartbeat = conductor.nextHeartbeat();
    const agent = await startLinkedAgent();

    expect(conductor.lookups.map((l) => l.status)).toEqual([404, 500, 200]);
    // Lookup is capped at 1.62 (token), heartbeats at 1.68 (verify CA).
    expect(conductor.lookups[2]!.apiVersion).toBe('1.62');
    expect(conductor.lookups[2]!.addresses).toEqual(expect.arrayContaining(macs));

    const heartbeat = await firstHeartbeat;
    expect(heartbeat.status).toBe(202);
    expect(heartbeat.apiVersion).toBe('1.68');
    expect(Object.keys(heartbeat.body)).toEqual(['callback_url', 'agent_token', 'agent_version']);
    expect(heartbeat.body.agent_token).toBe(node.token);
    expect(heartbeat.body.agent_token).toHaveLength(43);
    // No --advertise-host: the source address of the route to the conductor.
    expect(heartbeat.body.callback_url).toBe(`http://127.0.0.1:${agent.port}`);
    expect(agent.services.node.current?.uuid).toBe(node.uuid);
    // The lookup's agent_md5_checksum_enable (false here) overrides the local default.
    expect(agent.services.config.md5Enabled).toBe(false);

    // The token from the lookup now guards the command API.
    const withToken = await new AgentTestClient(agent.url, node.token).list();
    expect(withToken.status).toBe(200);
    const withoutToken = await new AgentTestClient(agent.url, undefined).list();
    expect(withoutToken.status).toBe(401);
    const wrongToken = await new AgentTestClient(agent.url, 'x'.repeat(43)).list();
    expect(wrongToken.status).toBe(401);

    // The node comes from the conductor: poll.set_node_info is refused, as IPA does.
    const setNode = await new AgentTestClient(agent.url, node.token).post('poll.set_node_info', { node_info: {} }, true);
    expect(setNode.status).toBe(400);
    expect(setNode.body.faultstring).toMatch(/standalone mode/);
  });

  it('a second agent looking up the same node gets "******" and does not serve', async () => {
    conductor = await FakeConductor.start();
    conductor.addNode(macs);
    const first = await startLinkedAgent();
    expect(first.serving).toBe(true);
    const second = await startLinkedAgent();
    expect(conductor.lookups.map((l) => l.status)).toEqual([200, 200]);
    expect(second.serving).toBe(false);
    await expect(fetch(`http://127.0.0.1:${second.port}/v1/status`)).rejects.toThrow();
  });

  it('with a pre-shared token (virtual media boot) takes "******" from the lookup and heartbeats with its own', async () => {
    conductor = await FakeConductor.start();
    const preshared = 'p'.repeat(43);
    conductor.addNode(macs, { token: preshared });
    const first = conductor.nextHeartbeat();
    const agent = await startLinkedAgent({ agentToken: preshared });
    expect(agent.serving).toBe(true);
    const heartbeat = await first;
    expect(heartbeat.status).toBe(202);
    expect(heartbeat.body.agent_token).toBe(preshared);
  });

  it('refreshes the node on request (IPA update_cached_node) and keeps its token', async () => {
    conductor = await FakeConductor.start();
    const node = conductor.addNode(macs);
    const agent = await startLinkedAgent();
    const token = node.token;
    node.properties = { root_device: { serial: 'S123' } };
    const refreshed = await agent.conductor!.refreshNode();
    expect(refreshed.properties).toEqual({ root_device: { serial: 'S123' } });
    expect(agent.services.node.current?.properties).toEqual({ root_device: { serial: 'S123' } });
    expect(conductor.lookups.at(-1)?.status).toBe(200);
    expect(node.token).toBe(token);
    expect((await new AgentTestClient(agent.url, token).list()).status).toBe(200);
  });

  it('gives up with LookupNodeError when no node matches within lookup_timeout', async () => {
    conductor = await FakeConductor.start();
    conductor.addNode(['52:54:00:00:00:99']);
    await expect(startLinkedAgent({ lookupTimeout: 2, lookupInterval: 0.1 })).rejects.toThrow(/Could not look up node info/);
    expect(conductor.lookups.length).toBeGreaterThan(1);
    expect(conductor.lookups.every((l) => l.status === 404)).toBe(true);
  });

  it('tries the API URLs in turn when the first does not answer', async () => {
    conductor = await FakeConductor.start();
    conductor.addNode(macs);
    const heartbeat = conductor.nextHeartbeat();
    await startLinkedAgent({ apiUrls: [`http://127.0.0.1:${await deadPort()}`, conductor.url] });
    expect((await heartbeat).status).toBe(202);
  });

  it('after the conductor wipes the token (power cycle), looks up again, takes the new token and forgets its commands', async () => {
    conductor = await FakeConductor.start({ heartbeatTimeout: 1 });
    const node = conductor.addNode(macs);
    const agent = await startLinkedAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
    await conductor.nextHeartbeat((h) => h.status === 202);
    const oldToken = node.token!;
    const client = new AgentTestClient(agent.url, oldToken);
    const steps = await client.post('clean.get_clean_steps', { node: { uuid: node.uuid }, ports: [] }, true);
    expect(steps.status).toBe(200);
    expect((await client.list()).body.commands).toHaveLength(1);

    conductor.powerCycle(node.uuid);
    const rejected = await conductor.nextHeartbeat((h) => h.status === 400);
    expect(rejected.body.agent_token).toBe(oldToken);
    const accepted = await conductor.nextHeartbeat((h) => h.status === 202);
    expect(node.token).toBeDefined();
    expect(node.token).not.toBe(oldToken);
    expect(accepted.body.agent_token).toBe(node.token);
    // The re-lookup came between the rejection and the accepted heartbeat.
    expect(conductor.lookups.filter((l) => l.at >= rejected.at && l.at <= accepted.at && l.status === 200)).toHaveLength(1);

    expect((await client.list()).status).toBe(401);
    const fresh = new AgentTestClient(agent.url, node.token);
    expect((await fresh.list()).body.commands).toEqual([]);
  });

  it('sends an early heartbeat when an async command ends (coalesced to 5 s after the previous one)', async () => {
    // 300 s timeout: the next regular heartbeat would be 90–180 s away.
    conductor = await FakeConductor.start({ heartbeatTimeout: 300 });
    const node = conductor.addNode(macs);
    const agent = await startLinkedAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
    const first = await conductor.nextHeartbeat();
    const client = new AgentTestClient(agent.url, node.token);
    const started = await client.post('clean.execute_clean_step', {
      node: { uuid: node.uuid },
      ports: [],
      step: { step: 'fixture_sleep', interface: 'deploy', args: { ms: 100 } },
    });
    expect(started.body.command_status).toBe('RUNNING');
    const early = await conductor.nextHeartbeat(() => true, 15_000);
    const finished = await client.get(started.body.id);
    expect(finished.body.command_status).toBe('SUCCEEDED');
    expect(early.status).toBe(202);
    expect(early.at - first.at).toBeGreaterThanOrEqual(4_900);
    expect(early.at - first.at).toBeLessThan(9_000);
  });

  it('a simulated power-off records the action, stops heartbeats and stops answering', async () => {
    conductor = await FakeConductor.start({ heartbeatTimeout: 1 });
    const node = conductor.addNode(macs);
    const agent = await startLinkedAgent({ powerActions: 'simulate' });
    await conductor.nextHeartbeat((h) => h.status === 202);
    const client = new AgentTestClient(agent.url, node.token);
    const response = await client.post('standby.power_off', {});
    expect(response.status).toBe(200);
    expect(await agent.stopped).toBe('simulated power_off');
    expect(agent.serving).toBe(false);
    expect(agent.power.history.map((r) => [r.action, r.mode])).toEqual([['power_off', 'simulate']]);
    const countAtPowerOff = conductor.heartbeats.length;
    // heartbeat_timeout 1 s: several heartbeats would have come in 2 s.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(conductor.heartbeats.length).toBe(countAtPowerOff);
    await expect(fetch(`${agent.url}/v1/status`)).rejects.toThrow();
  });

  it('closing while a simulated power-off takes the agent down is one clean shutdown', async () => {
    conductor = await FakeConductor.start();
    const node = conductor.addNode(macs);
    const agent = await startLinkedAgent({ powerActions: 'simulate' });
    await conductor.nextHeartbeat((h) => h.status === 202);
    await new AgentTestClient(agent.url, node.token).post('standby.power_off', {});
    await Promise.all([agent.close(), agent.close()]);
    expect(['simulated power_off', 'closed']).toContain(await agent.stopped);
    expect(agent.serving).toBe(false);
  });
});
