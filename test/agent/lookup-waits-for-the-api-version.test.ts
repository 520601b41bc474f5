/**
 * The lookup is made only once the Ironic API version is known. A lookup at the 1.31 IPA
 * falls back to when `GET /` fails is answered without an agent token (Ironic hands one out
 * from 1.62 on), and every Ironic since 16.0 (Victoria) refuses heartbeats without one: the agent served
 * and heartbeated ("Agent token is required for heartbeat processing.") until the conductor's
 * timeout failed the node, although the API answered normally a moment later.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  await conductor?.close();
  agent = conductor = undefined;
});

describe('lookup and the Ironic API version', () => {
  it('a failed version detection fails that try: the lookup at 1.62 gets the token and the heartbeats are accepted', async () => {
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    const node = conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    // The API's version document fails for a moment (an API restarting behind its proxy),
    // its lookup endpoint answers from the first request on.
    conductor.failRoot = [503, 503];
    const heartbeat = conductor.nextHeartbeat();
    agent = await startTestAgent({
      standalone: false,
      agentToken: undefined,
      apiUrls: [conductor.url],
      lookupInterval: 0.05,
      enableAutoTls: false,
    });

    expect(conductor.lookups.map((l) => [l.status, l.apiVersion])).toEqual([[200, '1.62']]);
    expect(agent.tokenGate.hasToken).toBe(true);
    const first = await heartbeat;
    expect(first.status).toBe(202);
    expect(first.body.agent_token).toBe(node.token);
  });

  it('with a version pinned by ipa-ironic-api-version nothing is detected and the lookup goes at once', async () => {
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    conductor.failRoot = [503, 503, 503];
    agent = await startTestAgent({
      standalone: false,
      agentToken: undefined,
      apiUrls: [conductor.url],
      lookupInterval: 0.05,
      enableAutoTls: false,
      ironicApiVersion: '1.68',
    });
    expect(conductor.lookups.map((l) => [l.status, l.apiVersion])).toEqual([[200, '1.62']]);
    expect(conductor.failRoot).toHaveLength(3);
    expect(agent.tokenGate.hasToken).toBe(true);
  });

  it('names ipa-ironic-api-version when the lookup waits for the version', async () => {
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    conductor.failRoot = [403, 403];
    const lines: string[] = [];
    const logStream = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    agent = await startTestAgent(
      { standalone: false, agentToken: undefined, apiUrls: [conductor.url], lookupInterval: 0.05, enableAutoTls: false },
      { logLevel: 'warn', logStream },
    );
    const warning = lines
      .map((l) => JSON.parse(l) as { msg: string; err?: { message: string } })
      .find((l) => l.err?.message.includes('1.31'));
    expect(warning?.err?.message).toContain(
      'the Ironic API version is not known yet (unexpected answer to GET / (HTTP 403)): not looking up at 1.31, which would give ' +
        'no agent token (ipa-ironic-api-version=1.68 pins the version where the API root cannot be read)',
    );
    expect(agent.tokenGate.hasToken).toBe(true);
  });
});
