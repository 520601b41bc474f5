/**
 * GET /v1/lookup and POST /v1/heartbeat/{node} as Ironic 2023.1 serves them (reference §7):
 * version gate, 400/404 texts in Ironic's error body, the token revealed once then "******",
 * heartbeat checks in order, 202, and the token wiped by power actions.
 */
import { describe, expect } from 'vitest';
import type { Conductor } from '../../src/conductor/conductor.js';
import { states } from '../../src/conductor/states.js';
import { conductorTest as it } from './conductor-lab.js';
import type { RunningConductor } from './helpers.js';

const MAC = '52:54:00:12:34:56';

/** A request to `running`'s API at microversion 1.68 (or `version`; null sends none), its answer parsed. */
const ironicApiOf = (running: RunningConductor) =>
  async function call(path: string, init: RequestInit & { version?: string | null } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (init.version !== null) headers['x-openstack-ironic-api-version'] = init.version ?? '1.68';
    const response = await fetch(`${running.url}${path}`, { ...init, headers });
    const text = await response.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // empty body (202)
    }
    const fault = body?.error_message ? JSON.parse(body.error_message) : undefined;
    return { status: response.status, body, fault };
  };

async function cleanWaitNode(conductor: Conductor): Promise<string> {
  const node = conductor.createNode({ ports: [MAC], interfaces: { deploy: 'custom-agent' } });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  await conductor.idle();
  expect(conductor.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);
  return node.uuid;
}

describe('lookup', () => {
  it('is 404 without a microversion header, 400 without addresses or uuid', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    expect((await call(`/v1/lookup?addresses=${MAC}`, { version: null })).status).toBe(404);
    const incomplete = await call('/v1/lookup');
    expect(incomplete.status).toBe(400);
    expect(incomplete.fault).toEqual({
      faultcode: 'Client',
      faultstring: "At least one of 'addresses' and 'node_uuid' parameters is required",
      debuginfo: null,
    });
  });

  it('hides nodes that are not in a lookup state (404), finds a CLEANWAIT node by MAC and reveals the token once', async ({
    lab,
  }) => {
    const running = await lab.start({ conf: { api: { ramdiskHeartbeatTimeout: 42 } } });
    const call = ironicApiOf(running);
    const idle = running.conductor.createNode({ ports: ['52:54:00:00:00:01'] });
    expect((await call('/v1/lookup?addresses=52:54:00:00:00:01')).status).toBe(404);
    expect((await call(`/v1/lookup?node_uuid=${idle.uuid}`)).status).toBe(404);

    const uuid = await cleanWaitNode(running.conductor);
    const first = await call(`/v1/lookup?addresses=aa:bb:cc:dd:ee:ff,${MAC.toUpperCase()}`);
    expect(first.status).toBe(200);
    expect(first.body.node.uuid).toBe(uuid);
    expect(Object.keys(first.body.node).sort()).toEqual(['driver_internal_info', 'instance_info', 'links', 'properties', 'uuid']);
    expect(first.body.config.agent_token).toHaveLength(43);
    expect(first.body.config).toMatchObject({ heartbeat_timeout: 42, agent_token_required: true });
    // Ironic's defaults for what the agent applies from the lookup.
    expect(first.body.config).toMatchObject({
      permitted_image_formats: ['raw', 'gpt', 'qcow2', 'iso'],
      disable_deep_image_inspection: false,
      agent_md5_checksum_enable: false,
      enable_bios_bootloader_install: false,
    });
    expect(first.body.node.driver_internal_info.agent_secret_token).toBe('******');
    const second = await call(`/v1/lookup?node_uuid=${uuid}`);
    expect(second.body.config.agent_token).toBe('******');
    // Below 1.62 there is no token at all.
    expect((await call(`/v1/lookup?node_uuid=${uuid}`, { version: '1.50' })).body.config.agent_token).toBeNull();
  });

  it('serves "latest" as the newest microversion, not the oldest', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    const uuid = await cleanWaitNode(running.conductor);
    const latest = await call(`/v1/lookup?node_uuid=${uuid}`, { version: 'latest' });
    expect(latest.status).toBe(200);
    expect(latest.body.config.agent_token).toHaveLength(43);
  });
});

describe('heartbeat', () => {
  it('checks callback_url, token, version and token value in Ironic’s order, then answers 202', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    const uuid = await cleanWaitNode(running.conductor);
    const { body } = await call(`/v1/lookup?node_uuid=${uuid}`);
    const token = body.config.agent_token as string;
    const beat = (payload: Record<string, unknown>, version?: string) =>
      call(`/v1/heartbeat/${uuid}`, { method: 'POST', body: JSON.stringify(payload), ...(version ? { version } : {}) });

    expect((await beat({ callback_url: 'http://127.0.0.1:9', agent_version: '1' })).fault.faultstring).toBe(
      'Agent token is required for heartbeat processing.',
    );
    expect((await beat({ callback_url: 'http://127.0.0.1:9', agent_token: token })).fault.faultstring).toBe(
      'Agent did not transmit a version, and a version is required. Please update the agent being used.',
    );
    expect(
      (await beat({ callback_url: 'http://127.0.0.1:9', agent_token: 'x'.repeat(43), agent_version: '1' })).fault.faultstring,
    ).toBe('Invalid or missing agent token received.');
    expect(
      (await beat({ callback_url: 'http://127.0.0.1:9', agent_token: token, agent_version: '1' }, '1.30')).fault.faultstring,
    ).toBe('Field "agent_version" not recognised');
    expect(
      (
        await call('/v1/heartbeat/no-such-node', {
          method: 'POST',
          body: JSON.stringify({ callback_url: 'x', agent_token: token, agent_version: '1' }),
        })
      ).status,
    ).toBe(404);

    // A good heartbeat: 202, empty body. The agent URL is recorded (the agent is not really
    // there, so processing then fails the node; the API answer does not wait for that).
    const ok = await beat({ callback_url: 'http://127.0.0.1:9', agent_token: token, agent_version: '1.0' });
    expect(ok.status).toBe(202);
    expect(ok.body).toBe('');
    await running.conductor.idle();
    expect(running.conductor.store.getNode(uuid).driverInternalInfo.agent_version).toBe('1.0');
  });

  it('refuses a changed callback_url while one is recorded, and a token wiped by a power action', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    const uuid = await cleanWaitNode(running.conductor);
    const { body } = await call(`/v1/lookup?node_uuid=${uuid}`);
    const token = body.config.agent_token as string;
    const node = running.conductor.store.getNode(uuid);
    node.driverInternalInfo.agent_url = 'http://127.0.0.1:1';
    running.conductor.store.saveNode(node);
    const moved = await call(`/v1/heartbeat/${uuid}`, {
      method: 'POST',
      body: JSON.stringify({ callback_url: 'http://127.0.0.1:2', agent_token: token, agent_version: '1' }),
    });
    expect(moved.fault.faultstring).toBe('Detected change in ramdisk provided "callback_url"');

    await running.conductor.setPowerState(uuid, 'rebooting');
    const after = running.conductor.store.getNode(uuid).driverInternalInfo;
    expect(after).not.toHaveProperty('agent_secret_token');
    expect(after).not.toHaveProperty('agent_url');
    const stale = await call(`/v1/heartbeat/${uuid}`, {
      method: 'POST',
      body: JSON.stringify({ callback_url: 'http://127.0.0.1:2', agent_token: token, agent_version: '1' }),
    });
    expect(stale.fault.faultstring).toBe('Invalid or missing agent token received.');
    // ... so the agent looks up again and gets a fresh token.
    expect((await call(`/v1/lookup?node_uuid=${uuid}`)).body.config.agent_token).not.toBe(token);
  });

  it('stores the agent’s auto-TLS certificate and refuses a different one while it is recorded', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    // Fast track: a manageable node may look up and heartbeat, and the heartbeat is only recorded.
    const node = running.conductor.createNode({ ports: [MAC], driverInfo: { fast_track: true } });
    await running.conductor.provision(node.uuid, 'manage');
    const uuid = node.uuid;
    const token = (await call(`/v1/lookup?node_uuid=${uuid}`)).body.config.agent_token as string;
    expect(token).toHaveLength(43);
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const beat = (ca: string) =>
      call(`/v1/heartbeat/${uuid}`, {
        method: 'POST',
        body: JSON.stringify({
          callback_url: 'https://127.0.0.1:9',
          agent_token: token,
          agent_version: '1',
          agent_verify_ca: ca,
        }),
      });
    expect((await beat(pem)).status).toBe(202);
    await running.conductor.idle();
    const dii = running.conductor.store.getNode(uuid).driverInternalInfo;
    expect(dii.agent_url).toBe('https://127.0.0.1:9');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(dii.agent_verify_ca as string, 'utf8')).toBe(pem);
    expect((await beat(pem.replace('AAAA', 'BBBB'))).fault.faultstring).toBe(
      'Detected change in ramdisk provided "agent_verify_ca"',
    );
    expect(
      (
        await call(`/v1/heartbeat/${uuid}`, {
          method: 'POST',
          version: '1.60',
          body: JSON.stringify({ callback_url: 'x', agent_token: token, agent_version: '1', agent_verify_ca: pem }),
        })
      ).fault.faultstring,
    ).toBe('Field "agent_verify_ca" not recognised in this version');
  });

  it('hides the token from node show', async ({ lab }) => {
    const running = await lab.start();
    const call = ironicApiOf(running);
    const uuid = await cleanWaitNode(running.conductor);
    await call(`/v1/lookup?node_uuid=${uuid}`);
    const shown = await call(`/v1/nodes/${uuid}?fields=driver_internal_info`);
    expect(shown.body.driver_internal_info.agent_secret_token).toBe('******');
  });
});
