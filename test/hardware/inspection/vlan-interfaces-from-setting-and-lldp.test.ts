/**
 * ipa-enable-vlan-interfaces: VLAN interfaces created on a real (veth) NIC from an explicit
 * `iface.vlan` or `mac.vlan`, or from the VLAN name TLV of a captured LLDP frame (lldpad's,
 * see the fixtures README), then listed like IPA's inventory lists them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/hardware/exec.js';
import { framesFromTcpdumpHex, lldpTlvsOfFrame, tlvsAsHex } from '../../../src/hardware/inspection/lldp.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';
import { bringUpVlanInterfaces, vlansFromLldp } from '../../../src/hardware/inventory/vlan-interfaces.js';
import { silentLogger } from '../../../src/hardware/logger.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'inspection');

async function lldpadTlvs(): Promise<Array<[number, string]>> {
  const { stdout } = await run('tcpdump', [
    '-r',
    join(FIXTURES, 'dcb_ets.pcap'),
    '-xx',
    '-nn',
    '-c',
    '1',
    'ether',
    'proto',
    '0x88cc',
  ]);
  return tlvsAsHex(lldpTlvsOfFrame(framesFromTcpdumpHex(stdout)[0]!));
}

describe('VLANs named by LLDP', () => {
  it('finds the VLAN ID of an 802.1 VLAN name TLV', async () => {
    expect(vlansFromLldp(await lldpadTlvs())).toEqual(['1']);
    expect(vlansFromLldp(null)).toEqual([]);
  });
});

/** Whether this kernel can make VLAN interfaces at all (8021q); containers often cannot. */
const vlanSupport = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = `ravp${process.pid % 10000}`;
  try {
    execFileSync('ip', ['link', 'add', probe, 'type', 'veth', 'peer', 'name', `${probe}p`], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'add', 'link', probe, 'name', `${probe}.9`, 'type', 'vlan', 'id', '9'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('ip', ['link', 'del', probe], { stdio: 'ignore' });
    } catch {
      // never created
    }
  }
})();

describe.skipIf(process.getuid?.() !== 0)('VLAN interfaces on a veth NIC', () => {
  const nic = `rav${process.pid % 100000}`;
  let mac = '';
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

  beforeAll(() => {
    ip('link', 'add', nic, 'type', 'veth', 'peer', 'name', `${nic}p`);
    ip('link', 'set', nic, 'up');
    mac = readFileSync(`/sys/class/net/${nic}/address`, 'utf8').trim();
  });

  afterAll(() => {
    // Removing the NIC removes its VLANs too.
    ip('link', 'del', nic);
  });

  it.skipIf(!vlanSupport)(
    'creates VLANs by name, by MAC and from LLDP, once, and lists them (needs the 8021q module)',
    async () => {
      const lldp = await lldpadTlvs();
      const setting = `${nic}.100,${mac.toUpperCase()}.200,${nic}`;
      const options = {
        exec: run,
        log: silentLogger,
        setting,
        interfaces: [{ name: nic, mac_address: mac, lldp }],
        collectLldp: true,
      };
      const added = await bringUpVlanInterfaces(options);
      expect(added).toEqual([`${nic}.100`, `${nic}.200`, `${nic}.1`]);
      expect(readFileSync(`/proc/net/vlan/${nic}.200`, 'utf8')).toMatch(/VID: 200/);

      // Listed as IPA lists them (the MAC form by its created name), with the parent's MAC.
      const listed = await listNetworkInterfaces({ exec: run, enableVlanInterfaces: setting, extraVlanNames: added });
      const vlans = listed.filter((i) => i.name.startsWith(`${nic}.`));
      expect(vlans.map((i) => i.name).sort()).toEqual([`${nic}.1`, `${nic}.100`, `${nic}.200`]);
      for (const vlan of vlans) expect(vlan.mac_address).toBe(mac);

      // Already there: nothing new the next time the inventory is taken.
      const again = await bringUpVlanInterfaces({ ...options, interfaces: [...options.interfaces, ...vlans] });
      expect(again).toEqual([]);
    },
  );

  it.skipIf(vlanSupport)('adds nothing, with a warning, where the kernel cannot make VLANs', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg?: string) => warnings.push(String(msg ?? _o)) } as typeof silentLogger;
    const added = await bringUpVlanInterfaces({
      exec: run,
      log,
      setting: `${nic}.100`,
      interfaces: [{ name: nic, mac_address: mac, lldp: null }],
      collectLldp: false,
    });
    expect(added).toEqual([]);
    expect(warnings).toEqual(['Exception when running ip commands to add VLAN interface']);
  });

  it('needs LLDP for a bare interface name, and skips an unknown interface', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg?: string) => warnings.push(String(msg ?? _o)) } as typeof silentLogger;
    const added = await bringUpVlanInterfaces({
      exec: run,
      log,
      setting: `${nic},nosuchnic.5`,
      interfaces: [{ name: nic, mac_address: mac, lldp: null }],
      collectLldp: false,
    });
    expect(added).toEqual([]);
    expect(warnings).toEqual([
      'Attempting to add VLAN interfaces but specific interface not provided and LLDP not enabled',
      'Provided VLAN interface does not exist',
    ]);
  });
});
