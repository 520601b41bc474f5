/**
 * Auto-TLS: with a conductor at API 1.68+ the agent serves HTTPS with a fresh self-signed
 * EC certificate for its advertised IP and sends the PEM as `agent_verify_ca`; a client that
 * trusts exactly that PEM completes the handshake (hostname checked against the SAN), one
 * that does not is refused. Older conductors get plain HTTP.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { generateAgentCertificate } from '../../src/agent/tls/auto-tls.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { startTestAgent } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await conductor?.close();
  conductor = undefined;
});

async function startAgainst(
  maxVersion: string,
  lookupConfig: Record<string, unknown> = {},
): Promise<{ agent: RunningAgent; conductor: FakeConductor }> {
  conductor = await FakeConductor.start({ maxVersion });
  conductor.lookupConfigExtra = lookupConfig;
  conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
  agent = await startTestAgent({ standalone: false, agentToken: undefined, apiUrls: [conductor.url], lookupInterval: 0.05 });
  return { agent, conductor };
}

describe('auto-TLS', () => {
  it('serves HTTPS with a certificate the conductor receives as agent_verify_ca', async () => {
    const { agent, conductor } = await startAgainst('1.82');
    const first = conductor.heartbeats.find((h) => h.status === 202) ?? (await conductor.nextHeartbeat((h) => h.status === 202));
    const pem = first.body.agent_verify_ca as string;
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(pem).toBe(agent.certificatePem);
    expect(first.body.callback_url).toBe(`https://127.0.0.1:${agent.port}`);
    expect(Object.keys(first.body)).toEqual(['callback_url', 'agent_token', 'agent_version', 'agent_verify_ca']);

    const cert = new X509Certificate(pem);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(cert.checkIssued(cert)).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    // 10 years, not IPA's 30 days (auto-tls.ts, VALIDITY_DAYS).
    expect(days).toBeGreaterThan(3649.9);
    expect(days).toBeLessThanOrEqual(3650);
    expect(Date.now() - Date.parse(cert.validFrom)).toBeGreaterThanOrEqual(3_599_000);

    // The conductor's view: verify the agent with the PEM it was given.
    const trusting = new Agent({ connect: { ca: pem } });
    const status = await request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: trusting });
    expect(status.statusCode).toBe(200);
    expect(await status.body.json()).toMatchObject({ version: expect.any(String) });
    await trusting.close();

    const untrusting = new Agent();
    await expect(request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: untrusting })).rejects.toThrow(
      /self-signed|certificate/i,
    );
    await untrusting.close();
    // Plain HTTP on the TLS port is not served.
    await expect(fetch(`http://127.0.0.1:${agent.port}/v1/status`).then((r) => r.status)).rejects.toThrow();
  });

  it('stays on plain HTTP when the conductor is older than 1.68 (it could not store the certificate)', async () => {
    const { agent, conductor } = await startAgainst('1.62');
    const first = conductor.heartbeats.find((h) => h.status === 202) ?? (await conductor.nextHeartbeat((h) => h.status === 202));
    expect(first.body.callback_url).toBe(`http://127.0.0.1:${agent.port}`);
    expect(first.body).not.toHaveProperty('agent_verify_ca');
    expect(agent.certificatePem).toBeUndefined();
    expect((await fetch(`${agent.url}/v1/status`)).status).toBe(200);
  });

  it('applies the TLS floor the conductor sets in the lookup config (1.3 only)', async () => {
    const { agent } = await startAgainst('1.82', { tls_min_version: '1.3' });
    const ca = agent.certificatePem!;
    const tls12 = new Agent({ connect: { ca, maxVersion: 'TLSv1.2' } });
    await expect(request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: tls12 })).rejects.toThrow();
    await tls12.close();
    const tls13 = new Agent({ connect: { ca, minVersion: 'TLSv1.3' } });
    expect((await request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: tls13 })).statusCode).toBe(200);
    await tls13.close();
  });

  it('offers TLS 1.2 only with the ECDHE-GCM suites', async () => {
    const { agent } = await startAgainst('1.82');
    const ca = agent.certificatePem!;
    const weak = new Agent({ connect: { ca, maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA256' } });
    await expect(request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: weak })).rejects.toThrow();
    await weak.close();
    const strong = new Agent({ connect: { ca, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' } });
    expect((await request(`https://127.0.0.1:${agent.port}/v1/status`, { dispatcher: strong })).statusCode).toBe(200);
    await strong.close();
  });

  it('verifies an HTTPS conductor against cafile, refuses an unknown one, and skips the check with insecure', async () => {
    const conductorCert = await generateAgentCertificate({ advertiseHost: '127.0.0.1' });
    conductor = await FakeConductor.start({
      maxVersion: '1.62',
      tls: { cert: conductorCert.certPem, key: conductorCert.keyPem },
    });
    conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-ca-'));
    const cafile = join(dir, 'ca.pem');
    writeFileSync(cafile, conductorCert.certPem);
    const base = { standalone: false, agentToken: undefined, apiUrls: [conductor.url], lookupInterval: 0.05 };
    try {
      agent = await startTestAgent({ ...base, cafile });
      expect(conductor.lookups.at(-1)?.status).toBe(200);
      await agent.close();
      agent = undefined;

      await expect(startTestAgent({ ...base, lookupTimeout: 0.5 })).rejects.toThrow(/Could not look up node info/);
      const before = conductor.lookups.length;

      conductor.powerCycle([...conductor.nodes.keys()][0]!);
      agent = await startTestAgent({ ...base, insecure: true });
      expect(conductor.lookups.length).toBe(before + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes the requested curve and a DNS SAN for a host name', async () => {
    const cert = await generateAgentCertificate({ advertiseHost: 'agent.example.test', curve: 'p256', hostname: 'node-1' });
    const parsed = new X509Certificate(cert.certPem);
    expect(parsed.subjectAltName).toBe('DNS:agent.example.test');
    expect(parsed.subject).toBe('CN=node-1');
    expect(parsed.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(parsed.checkPrivateKey((await import('node:crypto')).createPrivateKey(cert.keyPem))).toBe(true);
  });
});
