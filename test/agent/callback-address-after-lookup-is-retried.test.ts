/**
 * Once the lookup has taken the one-time agent token, failing to find the address to
 * advertise must not end the agent: the one init would start next gets "******" and never
 * serves, until Ironic's timeout. The agent tries again in rounds of ip_lookup_attempts (each
 * failed round logged as an error) until it finds one, then heartbeats with the token it
 * holds; a start stopped meanwhile ends at once. IPA ends there (LookupAgentIPError).
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';
import { runInPrivateNetwork } from '../helpers/private-network.js';

let conductor: FakeConductor | undefined;

afterEach(async () => {
  await conductor?.close();
  conductor = undefined;
});

describe('the address to advertise, after the lookup took the token', () => {
  it('is looked for until the network interface gets its IPv4 address; then the agent heartbeats with the token', async () => {
    // A network namespace of its own: agent0 (ipa-network-interface) gets 192.0.2.10 2 s
    // after the lookup, where 2 attempts 0.2 s apart end a round.
    const result = await runInPrivateNetwork('interface-address-comes-late.ts');
    expect(result).toMatchObject({ status: 202, callbackHost: '192.0.2.10', withTheLookupsToken: true, lookups: [200] });
    expect(result.roundsLoggedAsErrors).toBeGreaterThanOrEqual(2);
  });

  it('stops when the start is aborted meanwhile, with no heartbeat and nothing more done', async () => {
    conductor = await FakeConductor.start();
    conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    const lines: string[] = [];
    const logStream = new PassThrough();
    const stop = new AbortController();
    const reason = new Error('the test stops the agent');
    logStream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(line);
        const entry = JSON.parse(line) as { level: number; err?: { type?: string } };
        if (entry.level >= 50 && entry.err?.type === 'LookupAgentIPError' && !stop.signal.aborted) stop.abort(reason);
      }
    });
    const start = startTestAgent(
      {
        standalone: false,
        agentToken: undefined,
        apiUrls: [conductor.url],
        lookupInterval: 0.05,
        networkInterface: 'no-such-nic0',
        ipLookupAttempts: 2,
        ipLookupSleep: 0.2,
      },
      { logLevel: 'info', logStream, signal: stop.signal },
    );
    await expect(start).rejects.toBe(reason);
    const logged = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(lines.slice(logged)).toEqual([]);
    expect(conductor.lookups.map((l) => l.status)).toEqual([200]);
    expect(conductor.heartbeats).toEqual([]);
  });
});
