/**
 * An Ironic API behind mutual TLS: the agent presents `certfile`/`keyfile` (IPA's client
 * certificate options, e.g. from /etc/ironic-python-agent.d on a virtual media boot) on
 * every request to it, the probe that picks the address to advertise included. That probe
 * made without the certificate found no conductor reachable, after the lookup had already
 * taken the one-time token: the agent ended, and the one init started next got "******".
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';

let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;
let dir: string | undefined;

afterEach(async () => {
  await agent?.close();
  await conductor?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  agent = conductor = dir = undefined;
});

describe('a conductor that requires a client certificate', () => {
  it('is looked up, found reachable for the callback address, and heartbeated to', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-mtls-'));
    const server = selfSignedCert(mkdtempSync(join(dir, 'server-')));
    const client = selfSignedCert(mkdtempSync(join(dir, 'client-')));
    conductor = await FakeConductor.start({
      maxVersion: '1.62',
      tls: {
        cert: readFileSync(server.cert, 'utf8'),
        key: readFileSync(server.key, 'utf8'),
        clientCa: readFileSync(client.cert, 'utf8'),
      },
    });
    const node = conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    const heartbeat = conductor.nextHeartbeat();
    agent = await startTestAgent({
      standalone: false,
      agentToken: undefined,
      apiUrls: [conductor.url],
      lookupInterval: 0.05,
      cafile: server.cert,
      certfile: client.cert,
      keyfile: client.key,
      ipLookupAttempts: 2,
      ipLookupSleep: 0.1,
    });
    expect(await heartbeat).toMatchObject({ uuid: node.uuid, status: 202 });
    expect((await heartbeat).body.callback_url).toBe(`http://127.0.0.1:${agent.port}`);
  });
});
