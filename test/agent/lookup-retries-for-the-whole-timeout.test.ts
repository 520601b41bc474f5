/**
 * `ipa-lookup-timeout` is how long the agent keeps trying: IPA's tenacity
 * `stop_after_delay(lookup_timeout)` gives up only once that much time has passed. A
 * conductor that is not there yet (Ironic's API restarting, a node not enrolled yet) must
 * get every second of it, not lose the last backoff's worth (up to a minute).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IronicApiClient } from '../../src/agent/heartbeat/ironic-api-client.js';
import { lookupNode } from '../../src/agent/heartbeat/lookup.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let conductor: FakeConductor | undefined;
let client: IronicApiClient | undefined;

afterEach(async () => {
  await client?.close();
  await conductor?.close();
  client = conductor = undefined;
});

describe('lookup timeout', () => {
  it('keeps looking up until lookup_timeout has passed, then gives up with LookupNodeError', async () => {
    conductor = await FakeConductor.start();
    conductor.addNode(['52:54:00:00:00:99']); // no MAC of ours: every lookup is a 404
    client = new IronicApiClient({ apiUrls: [conductor.url], log: silentLogger, requestTimeoutMs: 5_000 });
    const timeout = 4;
    const started = Date.now();
    await expect(
      lookupNode({ client, log: silentLogger, addresses: async () => ['52:54:00:12:34:56'], timeout, interval: 1 }),
    ).rejects.toMatchObject({ type: 'LookupNodeError' });
    const gaveUpAfter = (Date.now() - started) / 1000;
    const lastTry = (conductor.lookups.at(-1)!.at - started) / 1000;
    // The backoff grows 1 s, U(1, 2) s, U(1, 4) s...: the next wait soon crosses the
    // deadline. The last try is made at the deadline, not a wait before it.
    expect(gaveUpAfter).toBeGreaterThanOrEqual(timeout);
    expect(lastTry).toBeGreaterThanOrEqual(timeout - 0.1);
    // ...and no later than that: the agent gives up when the operator said.
    expect(gaveUpAfter).toBeLessThan(timeout + 1.5);
    expect(conductor.lookups.every((l) => l.status === 404)).toBe(true);
  });
});
