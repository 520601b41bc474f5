/**
 * InfiniBand interfaces of Mellanox adapters are reported as IPA's MellanoxDeviceHardwareManager
 * reports them: a 6-byte MAC from the port GUID and the DHCP client-id. The `ip -j` output is
 * real (an eight-rail ConnectX node, see test/fixtures/inventory/README.md); /sys is a test tree
 * with what the kernel shows for such a NIC (a `device` folder whose vendor is Mellanox's 0x15b3).
 * The expected values are IPA's own conversion (mlnx.py: address[36:-14] + address[51:], and
 * the ff:00:00:00:00:00:02:00:00:02:c9:00: prefix before the GUID).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exec } from '../../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';

const IP_LINK = join(import.meta.dirname, '..', '..', 'fixtures', 'inventory', 'ip-link-infiniband-mlnx.json');

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

/** /sys/class/net with a PCI device for each NIC, from this vendor. */
async function sysWithNics(names: readonly string[], vendor: string): Promise<string> {
  root = await mkdtemp(join(tmpdir(), 'sys-net-'));
  for (const name of names) {
    const device = join(root, 'class', 'net', name, 'device');
    await mkdir(device, { recursive: true });
    await writeFile(join(device, 'vendor'), `${vendor}\n`);
    await writeFile(join(device, 'device'), '0x101b\n');
    await writeFile(join(root, 'class', 'net', name, 'carrier'), '1\n');
  }
  return root;
}

async function listWith(vendor: string) {
  const stdout = await readFile(IP_LINK, 'utf8');
  const names = (JSON.parse(stdout) as Array<{ ifname: string }>).map((e) => e.ifname);
  const exec: Exec = async (file, args) => {
    expect([file, ...(args ?? [])]).toEqual(['ip', '-j', '-d', 'addr', 'show']);
    return { command: `${file} ${(args ?? []).join(' ')}`, exitCode: 0, stdout, stderr: '', durationMs: 0 };
  };
  return listNetworkInterfaces({ exec, sysRoot: await sysWithNics(names, vendor) });
}

describe('InfiniBand interfaces in the inventory', () => {
  it('a Mellanox port gets the MAC and client-id IPA derives from its GUID', async () => {
    const interfaces = await listWith('0x15b3');
    expect(interfaces).toHaveLength(8);
    expect(interfaces[0]).toMatchObject({
      name: 'ibp12s0',
      mac_address: '0c:42:a1:0b:cc:d6',
      client_id: 'ff:00:00:00:00:00:02:00:00:02:c9:00:0c:42:a1:03:00:0b:cc:d6',
      vendor: '0x15b3',
      has_carrier: true,
    });
    expect(interfaces.at(-1)).toMatchObject({ name: 'ibp204s0', mac_address: '0c:42:a1:74:7a:3e' });
    // Every MAC is one Ironic accepts for a port (6 bytes).
    for (const iface of interfaces) expect(iface.mac_address).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  it('another vendor InfiniBand port keeps its 20-byte address and no client-id, as in IPA', async () => {
    const [first] = await listWith('0x8086');
    expect(first).toMatchObject({ mac_address: '00:00:10:29:fe:80:00:00:00:00:00:00:0c:42:a1:03:00:0b:cc:d6', client_id: null });
  });
});
