/**
 * `ipa-ironic-api-version` pins the Ironic API microversion instead of detecting it. IPA
 * reads it as `int(major), int(minor)` of its dot-separated parts, so `1.62.0` pins 1.62, and
 * a value it cannot read is logged and detection is used: a typo there does not stop the
 * agent (which init would then start again and again, never looking the node up).
 */
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

async function heartbeatWith(ironicApiVersion: string) {
  conductor = await FakeConductor.start({ maxVersion: '1.82' });
  conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
  const heartbeat = conductor.nextHeartbeat();
  agent = await startTestAgent(
    {
      standalone: false,
      agentToken: undefined,
      apiUrls: [conductor.url],
      lookupInterval: 0.05,
      enableAutoTls: false,
      ironicApiVersion,
    },
    { logLevel: 'info' },
  );
  return heartbeat;
}

describe('ipa-ironic-api-version', () => {
  it('pins the major and minor of a longer version, as IPA', async () => {
    const heartbeat = await heartbeatWith('1.62.0');
    expect(await heartbeat).toMatchObject({ status: 202, apiVersion: '1.62' });
  });

  it('a value that is not a version is logged, and the version detected', async () => {
    const heartbeat = await heartbeatWith('latest');
    // Detected 1.82: heartbeats go with the highest version IPA knows, 1.68.
    expect(await heartbeat).toMatchObject({ status: 202, apiVersion: '1.68' });
    expect(agent!.services.logBuffer.text()).toContain(
      'parse the ironic_api_version \\"latest\\". Will fall back to auto-detection',
    );
  });
});
