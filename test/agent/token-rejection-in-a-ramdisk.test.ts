/**
 * A conductor that rejects our token has wiped it to power this machine off or reboot it. In
 * a ramdisk the agent must not look the node up again: in the window before the power goes (a
 * soft reboot's shutdown, a late BMC) that lookup would take the token meant for the agent of
 * the next boot, which would then get "******" and never serve. Outside a ramdisk (power
 * actions simulated: the machine does not really restart) it looks up again, which
 * lookup-token-and-heartbeat.test.ts shows through a whole agent; the agent chooses by its
 * power mode (agent.ts), so this test drives the conductor link itself.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandRunner } from '../../src/agent/command-runner.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import { ConductorLink } from '../../src/agent/heartbeat/conductor-link.js';
import { TokenGate } from '../../src/agent/http/token-gate.js';
import { NodeCache } from '../../src/agent/node-cache.js';
import type { AgentServices } from '../../src/agent/services.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let macs: string[] = [];
let conductor: FakeConductor | undefined;
let link: ConductorLink | undefined;

beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

afterEach(async () => {
  await link?.stop();
  await conductor?.close();
  link = conductor = undefined;
});

async function linkTo(conductorUrl: string, lookUpAgainOnTokenRejection: boolean): Promise<ConductorLink> {
  const config = mergeConfig({
    flags: { apiUrls: [conductorUrl], lookupInterval: 0.05, lookupTimeout: 30, enableAutoTls: false },
  });
  const tokenGate = new TokenGate({ required: true });
  const runner = new CommandRunner([], { log: silentLogger } as unknown as AgentServices);
  link = new ConductorLink({
    config,
    log: silentLogger,
    tokenGate,
    runner,
    nodeCache: new NodeCache(),
    agentVersion: '0.0.0-test',
    collectMacs: () => Promise.resolve(macs),
    lookUpAgainOnTokenRejection,
  });
  expect((await link.lookup()).kind).toBe('accept');
  link.startHeartbeats('http://127.0.0.1:9/');
  return link;
}

describe('a rejected agent token', () => {
  it('in a ramdisk: no new lookup, so the next boot gets the token; heartbeats go on and fail', async () => {
    expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
    conductor = await FakeConductor.start({ heartbeatTimeout: 1 });
    const node = conductor.addNode(macs);
    const agentLink = await linkTo(conductor.url, false);
    await conductor.nextHeartbeat((h) => h.status === 202);
    const rejections: unknown[] = [];
    agentLink.on('token-rejected', (error) => rejections.push(error));

    conductor.powerCycle(node.uuid);
    const first = await conductor.nextHeartbeat((h) => h.status !== 202);
    // The heartbeater retries after an error 5-10 s later: wait for one retry.
    const second = await conductor.nextHeartbeat(() => true, 15_000);
    expect(second.status).not.toBe(202);
    expect(second.body.agent_token).toBe(first.body.agent_token);
    await expect.poll(() => rejections.length).toBe(2); // the conductor records before it answers
    expect(conductor.lookups.filter((l) => l.at >= first.at)).toEqual([]);
    // The agent of the next boot looks up and gets a token.
    expect(node.token).toBeUndefined();
  });

  it('outside a ramdisk: looks up again and heartbeats with the new token', async () => {
    conductor = await FakeConductor.start({ heartbeatTimeout: 1 });
    const node = conductor.addNode(macs);
    await linkTo(conductor.url, true);
    await conductor.nextHeartbeat((h) => h.status === 202);
    conductor.powerCycle(node.uuid);
    await conductor.nextHeartbeat((h) => h.status !== 202);
    const accepted = await conductor.nextHeartbeat((h) => h.status === 202);
    expect(node.token).toBeDefined();
    expect(accepted.body.agent_token).toBe(node.token);
  });
});
