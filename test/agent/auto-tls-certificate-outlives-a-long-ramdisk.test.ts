/**
 * The auto-TLS certificate stays valid for as long as a ramdisk can run. With fast-track an
 * agent keeps heartbeating in `available` until the node is deployed, for weeks or months,
 * and Ironic refuses another certificate while it holds one for the agent ("Detected change
 * in ramdisk provided agent_verify_ca"): IPA's 30 days left the conductor, from day 31 on,
 * unable to reach the agent (certificate has expired), deploy after deploy failing until
 * someone power-cycled the node.
 */
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateAgentCertificate } from '../../src/agent/tls/auto-tls.js';

let server: https.Server | undefined;

afterEach(async () => {
  server?.close();
  server = undefined;
});

/** A conductor's request to the agent, verifying it against the PEM it was given. */
function conductorGet(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path: '/v1/status', ca, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
  });
}

describe('the auto-TLS certificate', () => {
  it('of an agent that booted 400 days ago is still accepted by a conductor verifying it', async () => {
    const bootedAt = new Date(Date.now() - 400 * 86_400_000);
    const cert = await generateAgentCertificate({ advertiseHost: '127.0.0.1', now: bootedAt });
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_request, response) => response.end('{}'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    expect(await conductorGet(port, cert.certPem)).toBe(200);
    expect(cert.notBefore.getTime()).toBe(bootedAt.getTime() - 3600 * 1000);
  });
});
