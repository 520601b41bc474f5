/**
 * `GET/POST/PATCH /v1/nodes…` show a node as Ironic's `node_sanitize` does by default: BMC
 * passwords in `driver_info`, secrets, the config drive and `image_url` in `instance_info`, and
 * the agent token are "******"; the conductor itself keeps the real values.
 */
import { describe, expect } from 'vitest';
import { conductorTest as it } from './conductor-lab.js';

const DRIVER_INFO = {
  redfish_address: 'https://bmc.example:8443',
  redfish_username: 'admin',
  redfish_password: 'bmc-pass-123',
  ipmi_password: 'ipmi-pass-456',
  nested: { snmp_auth_key: 'k', secret_pin: '9999' },
  // oslo's _SANITIZE_KEYS beyond passwords: Ceph and TLS-PSK keys.
  rbd_keyring: 'AQBceph-keyring==',
  storage_cephxkey: 'AQBcephx==',
  tls_pskkey: 'psk-0123',
};
const INSTANCE_INFO = {
  image_source: 'http://images.example/disk.img',
  image_url: 'http://swift.example/v1/disk.img?temp_url_sig=abcdef',
  configdrive: 'H4sIAAAAAAAC/+3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAKAAA',
  image_os_hash_value: '9f86d081884c7d65',
};

describe('the API’s node view', () => {
  it('masks driver_info and instance_info secrets in every answer, and keeps them in the conductor', async ({ lab }) => {
    const running = await lab.start();
    const headers = { 'content-type': 'application/json', 'x-openstack-ironic-api-version': '1.82' };
    const created = await fetch(`${running.url}/v1/nodes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ driver: 'fake-hardware', driver_info: DRIVER_INFO, instance_info: INSTANCE_INFO }),
    });
    expect(created.status).toBe(201);
    const node = (await created.json()) as Record<string, any>;
    const shown = (await (await fetch(`${running.url}/v1/nodes/${node.uuid}`, { headers })).json()) as Record<string, any>;
    const patched = (await (
      await fetch(`${running.url}/v1/nodes/${node.uuid}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify([{ op: 'add', path: '/driver_info/redfish_verify_ca', value: false }]),
      })
    ).json()) as Record<string, any>;

    for (const view of [node, shown, patched]) {
      expect(view.driver_info).toMatchObject({
        redfish_address: 'https://bmc.example:8443',
        redfish_username: 'admin',
        redfish_password: '******',
        ipmi_password: '******',
        nested: { snmp_auth_key: 'k', secret_pin: '******' },
        rbd_keyring: '******',
        storage_cephxkey: '******',
        tls_pskkey: '******',
      });
      expect(view.instance_info).toEqual({
        image_source: 'http://images.example/disk.img',
        image_url: '******',
        configdrive: '******',
        image_os_hash_value: '9f86d081884c7d65',
      });
      expect(JSON.stringify(view)).not.toMatch(/bmc-pass-123|ipmi-pass-456|temp_url_sig|H4sIAAAA|AQB|psk-0123/);
    }
    const stored = running.conductor.store.getNode(node.uuid as string);
    expect(stored.driverInfo).toMatchObject({ ...DRIVER_INFO, redfish_verify_ca: false });
    expect(stored.instanceInfo).toEqual(INSTANCE_INFO);
  });
});
