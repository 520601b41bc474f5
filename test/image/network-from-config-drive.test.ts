// DHCP-less boots: the ramdisk's /init (image/rootfs/usr/lib/ramdisk/config-drive.sh and
// network-data.mjs, busybox sh on a stub machine, network-stub.ts) configures the NICs named
// by the network_data.json on a virtual media device labelled config-2, as Ironic writes it
// for a node with network_data, before any DHCP; the other NICs keep DHCP (glean's fallback).
// The documents are real ones (test/fixtures/network-data/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSetupNetwork, type StubMedia } from './network-stub.js';
import { busybox } from './ramdisk-shell.js';

const doc = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'network-data', name), 'utf8');
const NETWORK_DATA = 'openstack/latest/network_data.json';
/** A BMC's virtual CD holding `json`, as lsblk and blkid describe /dev/sr0. */
const virtualCd = (json: string, extra: Partial<StubMedia> = {}): StubMedia => ({
  blkid: 'LABEL=config-2\nTYPE=iso9660',
  lsblk: 'KNAME="sr0" TRAN="sata" TYPE="rom" SIZE="374784"',
  files: { [NETWORK_DATA]: json },
  ...extra,
});
// The link up of every NIC, and the summary at the end, which every boot runs.
const around = (nics: string[], configured: string[]) => [
  ...nics.map((nic) => `link set ${nic} up`),
  'link set lo up',
  ...configured,
  '-o addr show scope global',
];
const MOUNTED = ['mount -t iso9660 -o ro /dev/sr0 $TMP/config-drive', 'umount $TMP/config-drive'];

describe.skipIf(!busybox)("the ramdisk configures NICs from the virtual media's network_data.json (busybox sh)", () => {
  it("Ironic's example: a static address on its NIC, with no DHCP and no wait there; the other NIC keeps DHCP", () => {
    const run = runSetupNetwork(
      'ipa-api-url=http://192.168.122.1:6385',
      {
        eth0: { mac: '52:54:00:d3:6a:71', carrierAt: 0 }, // no DHCP server on its link
        eth1: { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '192.0.2.10/24' },
      },
      { sr0: virtualCd(doc('ironic-dhcp-less-doc.json')) },
    );
    expect(run.ip).toEqual(around(['eth0', 'eth1'], ['addr add 192.168.122.42/24 dev eth0']));
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 /);
    expect(run.ticks).toBe(0); // eth0 has its address and its carrier: no lease awaited
    expect(run.mounts).toEqual(MOUNTED); // read-only, and unmounted before the agent starts
    expect(run.resolvConf).toBe(''); // "services": []
    expect(run.log).toContain('ramdisk: network: configuring from network_data.json on the config drive /dev/sr0');
    expect(run.log).toContain('ramdisk: network: eth0 192.168.122.42/24 (static, from network_data.json)');
    expect(run.log).not.toMatch(/WARNING/);
  });

  it('static IPv4 and IPv6 with routes and MTUs on two NICs, DNS servers in resolv.conf (glean rax-iad)', () => {
    const run = runSetupNetwork(
      '',
      { eth0: { mac: 'bc:76:4e:20:d7:2f', carrierAt: 3 }, eth1: { mac: 'bc:76:4e:20:d7:33', carrierAt: 0 } },
      { sr0: virtualCd(doc('glean-rax-iad.json')) },
    );
    expect(run.ip).toEqual(
      around(
        ['eth0', 'eth1'],
        [
          'link set dev eth0 mtu 1500',
          'link set dev eth1 mtu 1500',
          'addr add 146.20.110.113/24 dev eth0',
          'route add default via 146.20.110.1 dev eth0',
          '-6 addr add 2001:4802:7807:103:be76:4eff:fe20:d72f/64 dev eth0',
          '-6 route add default via fe80::def dev eth0',
          '-6 route add fd30::/48 via fe80::f001 dev eth0',
          'addr add 10.210.32.174/19 dev eth1',
          'route add 10.176.0.0/12 via 10.210.32.1 dev eth1',
          'route add 10.208.0.0/12 via 10.210.32.1 dev eth1',
        ],
      ),
    );
    expect(run.udhcpc).toEqual({});
    expect(run.ticks).toBe(3); // the first NIC with an address: its carrier
    // The top-level servers, then those of a network (nova writes both; glean reads the first).
    expect(run.resolvConf).toBe(
      'nameserver 69.20.0.196\nnameserver 69.20.0.164\nnameserver 1111:2222:3333:4444::1234\nnameserver 1.2.3.4\n',
    );
  });

  it('ipv4_dhcp runs DHCP on its NIC; ipv6_slaac leaves it to router advertisements (glean vexxhost)', () => {
    const run = runSetupNetwork(
      '',
      {
        eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '198.51.100.10/24' },
        eth1: { mac: 'fa:16:3e:d1:1f:b2', carrierAt: 0, lease: '192.0.2.10/24' },
      },
      { sr0: virtualCd(doc('glean-vexxhost.json')) },
    );
    const polls = (line: string) => !line.startsWith('-4 -o addr show dev '); // has_ipv4, waiting for the lease
    expect(run.ip.filter(polls)).toEqual(around(['eth0', 'eth1'], ['link set dev eth1 mtu 1500']));
    // The file's NIC first: its lease is the one awaited, its default route wins.
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 .* -i eth1 /);
    expect(run.udhcpc.eth0).toMatch(/^METRIC=101 /);
    expect(run.ticks).toBe(run.leasedAt.eth1);
    expect(run.resolvConf).toBe('nameserver 199.204.44.24\nnameserver 199.204.47.54\n');
    expect(run.log).toContain('ramdisk: network: eth1: IPv6 from router advertisements (ipv6_slaac)');
  });

  it('a VLAN on a NIC: 8021q, the VLAN link with its MAC, its address and route (cloud-init NETWORK_DATA_VLAN)', () => {
    const run = runSetupNetwork(
      '',
      { eth0: { mac: 'fa:16:3e:69:b0:58', carrierAt: 0 }, eth1: { mac: '52:54:00:00:00:02', carrierAt: 0 } },
      { sr0: virtualCd(doc('cloud-init-vlan.json')) },
    );
    expect(run.modprobe).toContain('-q 8021q');
    expect(run.ip).toEqual(
      around(
        ['eth0', 'eth1'],
        [
          'link set dev eth0 mtu 1500',
          'link add link eth0 name eth0.602 type vlan id 602',
          'link set dev eth0.602 address fa:16:3e:b3:72:30',
          'link set dev eth0.602 up',
          'addr add 10.0.1.5/29 dev eth0.602',
          'route add 192.168.1.0/32 via 10.0.1.1 dev eth0.602',
        ],
      ),
    );
    // eth0 carries the VLAN: no DHCP of its own (glean's rule); eth1 is not named.
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.resolvConf).toBe('nameserver 1.1.1.191\n');
  });

  it("a bond it cannot make is said and left out, with the VLAN on it; the member NIC without a network keeps DHCP (nova's spec)", () => {
    const run = runSetupNetwork(
      '',
      { eth0: { mac: 'a0:36:9f:2c:e8:80', carrierAt: 0 }, eth1: { mac: 'a0:36:9f:2c:e8:81', carrierAt: 0 } },
      { sr0: virtualCd(doc('nova-spec-bond-vlan.json')) },
    );
    expect(run.ip).toEqual(
      around(
        ['eth0', 'eth1'],
        [
          'link set dev eth0 mtu 9000',
          'addr add 10.184.0.244/20 dev eth0',
          'route add 10.0.0.0/8 via 11.0.0.1 dev eth0',
          'route add default via 23.253.157.1 dev eth0',
          '-6 addr add 2001:cdba::3257:9652/24 dev eth0',
          '-6 route add default via fd00::1 dev eth0',
          '-6 route add ::/48 via fd00::1:1 dev eth0',
        ],
      ),
    );
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.log).toContain(
      "WARNING: network: network_data.json: link 'bond0' is a bond, which this ramdisk cannot make: ignored, with the networks and VLANs on it",
    );
    expect(run.resolvConf).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });

  it('a NIC the file lists without a network comes up with no address and no DHCP, as glean leaves it', () => {
    const json = JSON.parse(doc('ironic-dhcp-less-doc.json')) as { networks: unknown[] };
    json.networks = [];
    const run = runSetupNetwork(
      '',
      { eth0: { mac: '52:54:00:d3:6a:71', carrierAt: 0, lease: '192.0.2.10/24' } },
      {
        sr0: virtualCd(JSON.stringify(json)),
      },
    );
    expect(run.udhcpc).toEqual({});
    expect(run.ip).toEqual(around(['eth0'], []));
    expect(run.log).toContain(
      'WARNING: network: network_data.json names eth0 but gives none an address, and no other NIC gets one',
    );
  });

  it('an ip= naming a NIC the file configures is ignored and said; ip= still applies to the others', () => {
    const run = runSetupNetwork(
      'ip=eth0:dhcp ip=eth1:dhcp',
      { eth0: { mac: '52:54:00:d3:6a:71', carrierAt: 0 }, eth1: { mac: '52:54:00:00:00:02', carrierAt: 0 } },
      { sr0: virtualCd(doc('ironic-dhcp-less-doc.json')) },
    );
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.log).toContain('BAD KERNEL PARAMETER ip=eth0:dhcp: eth0 is configured from network_data.json: ignored');
  });
});

describe.skipIf(!busybox)('which config-2 device the ramdisk reads, and what it does with a bad file (busybox sh)', () => {
  const nics = {
    eth0: { mac: '52:54:00:d3:6a:71', carrierAt: 0, lease: '198.51.100.10/24' },
    eth1: { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '192.0.2.10/24' },
  };
  const dhcpOnEveryNic = (run: ReturnType<typeof runSetupNetwork>) => {
    expect(Object.keys(run.udhcpc).sort()).toEqual(['eth0', 'eth1']);
    expect(run.ip.filter((line) => line.includes('addr add'))).toEqual([]);
  };

  it("a config drive a deployment left on a local disk's partition is never read", () => {
    const run = runSetupNetwork('', nics, {
      vda4: {
        blkid: 'LABEL=config-2\nTYPE=iso9660',
        lsblk: 'KNAME="vda4" TRAN="" TYPE="part" SIZE="67108864"\nKNAME="vda" TRAN="" TYPE="disk" SIZE="10737418240"',
        files: { [NETWORK_DATA]: doc('ironic-dhcp-less-doc.json') },
      },
    });
    expect(run.mounts).toEqual([]);
    dhcpOnEveryNic(run);
    expect(run.log).toContain('ramdisk: network: config-2 on /dev/vda4 is not virtual media (vda4 is a partition): not read');
  });

  it('a USB disk of 4 GiB or more is no virtual media; a small USB stick labelled CONFIG-2 (vfat) is', () => {
    const usb = (size: number): StubMedia => ({
      blkid: 'LABEL=CONFIG-2\nTYPE=vfat',
      lsblk: `KNAME="sdb" TRAN="usb" TYPE="disk" SIZE="${size}"`,
      files: { [NETWORK_DATA]: doc('ironic-dhcp-less-doc.json') },
    });
    const big = runSetupNetwork('', nics, { sdb: usb(4 * 1024 ** 3) });
    dhcpOnEveryNic(big);
    expect(big.log).toContain(
      'config-2 on /dev/sdb is not virtual media (neither a CD nor a USB disk under 4 GiB: sdb: type disk, transport usb, 4294967296 bytes;): not read',
    );
    const stick = runSetupNetwork('', nics, { sdb: usb(1474560) });
    expect(stick.mounts[0]).toBe('mount -t vfat -o ro /dev/sdb $TMP/config-drive');
    expect(stick.ip).toContain('addr add 192.168.122.42/24 dev eth0');
  });

  it("ir_pub_id=: only the ISO with Ironic's publisher ID is read; BOOTIF= without it reads none", () => {
    const media = { sr0: virtualCd(doc('ironic-dhcp-less-doc.json'), { publisher: '5C3E9F1A-0B2D-4C6E-8F7A-1B2C3D4E5F60' }) };
    const match = runSetupNetwork('ir_pub_id=5c3e9f1a-0b2d-4c6e-8f7a-1b2c3d4e5f60 BOOTIF=01-52-54-00-d3-6a-71', nics, media);
    expect(match.ip).toContain('addr add 192.168.122.42/24 dev eth0');
    const other = runSetupNetwork('ir_pub_id=0f0f0f0f-0000-4000-8000-000000000000', nics, media);
    dhcpOnEveryNic(other);
    expect(other.log).toContain(
      "config-2 on /dev/sr0 has publisher ID '5C3E9F1A-0B2D-4C6E-8F7A-1B2C3D4E5F60', not ir_pub_id=0f0f0f0f-0000-4000-8000-000000000000: not read",
    );
    expect(match.probes[0]).toBe('blkid -c /dev/null -o export'); // the probes are seen
  });

  it('a PXE boot (BOOTIF= without ir_pub_id=) is told by the command line alone: no device is probed, none read', () => {
    // ironic-python-agent-builder's resolve-configdrive script stops before lsblk then: a
    // network boot pays for no probe of every device, even with a config-2 ISO attached.
    const media = { sr0: virtualCd(doc('ironic-dhcp-less-doc.json'), { publisher: '5C3E9F1A-0B2D-4C6E-8F7A-1B2C3D4E5F60' }) };
    for (const cmdline of ['BOOTIF=01-52-54-00-d3-6a-71', 'BOOTIF=01-52-54-00-d3-6a-71 ir_pub_id=', 'BOOTIF=not-a-mac']) {
      const pxe = runSetupNetwork(cmdline, nics, media);
      expect(pxe.probes, cmdline).toEqual([]);
      expect(pxe.mounts, cmdline).toEqual([]);
      dhcpOnEveryNic(pxe);
      expect(pxe.log, cmdline).toContain(
        'ramdisk: network: BOOTIF= without ir_pub_id= is a network boot: no config drive is looked for',
      );
    }
  });

  it('malformed JSON is reported on the console, nothing is configured from it, DHCP stands', () => {
    const run = runSetupNetwork('', nics, { sr0: virtualCd('{"links": [{"id": "port-1", "type": "phy",') });
    dhcpOnEveryNic(run);
    expect(run.mounts).toEqual(MOUNTED);
    expect(run.log).toMatch(
      /WARNING: network: \/dev\/sr0 openstack\/latest\/network_data.json is not usable \(not JSON \(.+\)\): DHCP as without it/,
    );
  });

  it('one bad value rejects the whole file: not even the MTU of a link before it is set', () => {
    const json = JSON.parse(doc('glean-rax-iad.json')) as { networks: { ip_address: string }[] };
    json.networks[2]!.ip_address = '10.210.32.300';
    const run = runSetupNetwork(
      '',
      { eth0: { ...nics.eth0, mac: 'bc:76:4e:20:d7:2f' }, eth1: { ...nics.eth1, mac: 'bc:76:4e:20:d7:33' } },
      { sr0: virtualCd(JSON.stringify(json)) },
    );
    dhcpOnEveryNic(run);
    expect(run.ip.filter((line) => line.includes('mtu'))).toEqual([]);
    expect(run.resolvConf).toBe('');
    expect(run.log).toContain(
      "is not usable (network 'network2': ip_address '10.210.32.300' is not an IPv4 address): DHCP as without it",
    );
  });

  it('a config drive without network_data.json, or none at all, changes nothing', () => {
    const empty = runSetupNetwork('', nics, { sr0: virtualCd('', { files: { 'openstack/latest/meta_data.json': '{}' } }) });
    dhcpOnEveryNic(empty);
    expect(empty.log).toContain('the config drive /dev/sr0 holds no openstack/latest/network_data.json');
    const none = runSetupNetwork('', nics);
    dhcpOnEveryNic(none);
    expect(none.mounts).toEqual([]);
  });
});
