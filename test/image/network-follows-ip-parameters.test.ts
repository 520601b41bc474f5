// Which NICs the ramdisk's /init configures (image/rootfs/usr/lib/ramdisk/network.sh, busybox sh
// on a stub machine, network-stub.ts), as dracut reads ip=: once an ip= names a NIC or gives a
// static address, only the NICs named are configured, and /init waits for the one it
// prefers, never for a NIC it was told to leave alone. A bare ip=dhcp beside named NICs keeps
// DHCP on the others (NetworkManager's initrd generator's reading; dracut's legacy scripts
// refuse the mix).
import { describe, expect, it } from 'vitest';
import { runSetupNetwork } from './network-stub.js';
import { busybox } from './ramdisk-shell.js';

const eth0 = { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '198.51.100.10/24' };
const eth1 = { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '192.0.2.10/24' };

describe.skipIf(!busybox)('the ramdisk configures the NICs ip= names (busybox sh)', () => {
  it('ip=eth1:dhcp: DHCP on eth1 alone, preferred and waited for, even with BOOTIF on eth0', () => {
    const run = runSetupNetwork('BOOTIF=01-52-54-00-00-00-01 ip=eth1:dhcp', {
      eth0,
      eth1: { ...eth1, carrierAt: 20 },
    });
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 /);
    expect(run.ticks).toBe(20);
    expect(run.log).toContain('ramdisk: network: the BOOTIF NIC eth0 is left unconfigured by ip=eth1:dhcp');
    expect(run.log).not.toMatch(/WARNING/);
  });

  it('several NICs named for DHCP: the first named is preferred without BOOTIF', () => {
    const run = runSetupNetwork('ip=eth1:dhcp ip=eth0:dhcp', {
      eth0,
      eth1: { ...eth1, carrierAt: 10 },
      eth2: { mac: '52:54:00:00:00:03', carrierAt: 0, lease: '203.0.113.10/24' },
    });
    expect(Object.keys(run.udhcpc).sort()).toEqual(['eth0', 'eth1']);
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 /);
    expect(run.udhcpc.eth0).toMatch(/^METRIC=101 /);
    expect(run.ticks).toBe(10);
  });

  it('a static ip=: no DHCP anywhere and no wait for a lease (the link is there)', () => {
    const run = runSetupNetwork('ip=192.0.2.20::192.0.2.1:255.255.255.0:node1:eth0:none:192.0.2.53', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0 },
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 0 }, // cabled, no DHCP server
    });
    expect(run.udhcpc).toEqual({});
    expect(run.ticks).toBe(0);
    expect(run.ip).toContain('addr add 192.0.2.20/24 dev eth0');
    expect(run.ip).toContain('route add default via 192.0.2.1 dev eth0');
    expect(run.hostname).toBe('node1');
    expect(run.resolvConf).toBe('nameserver 192.0.2.53\n');
    expect(run.log).toContain('ramdisk: network: eth0 192.0.2.20/24 via 192.0.2.1 (static, from ip=)');
    expect(run.log).not.toMatch(/WARNING/);
  });

  it("a static ip= whose NIC's link comes late: /init waits for that carrier, 10 s at most", () => {
    const run = runSetupNetwork('ip=192.0.2.20:::24::eth1:none', {
      eth0,
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 7 },
    });
    expect(run.udhcpc).toEqual({});
    expect(run.ticks).toBe(7);
  });

  it('a bare ip=dhcp beside a static one keeps DHCP on the other NICs', () => {
    const run = runSetupNetwork('BOOTIF=01-52-54-00-00-00-02 ip=192.0.2.20:::24::eth0:none ip=dhcp', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0 },
      eth1: { ...eth1, carrierAt: 3 },
    });
    expect(Object.keys(run.udhcpc)).toEqual(['eth1']);
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 /);
    expect(run.ticks).toBe(3); // the BOOTIF NIC's lease
  });

  it("the kernel's long form without a client address: its device and method, or every NIC", () => {
    const named = runSetupNetwork('BOOTIF=01-52-54-00-00-00-01 ip=::::node1:eth0:dhcp', { eth0, eth1 });
    expect(Object.keys(named.udhcpc)).toEqual(['eth0']);
    expect(named.log).not.toMatch(/WARNING|unconfigured/);
    const other = runSetupNetwork('ip=:::::eth1:', { eth0, eth1 });
    expect(Object.keys(other.udhcpc)).toEqual(['eth1']);
    const every = runSetupNetwork('ip=::::node1::dhcp', { eth0, eth1 });
    expect(Object.keys(every.udhcpc).sort()).toEqual(['eth0', 'eth1']);
  });

  it('ip=eth1:off names eth1 alone: nothing gets DHCP; beside a bare ip=dhcp, eth0 does', () => {
    const alone = runSetupNetwork('ip=eth1:off', { eth0, eth1 });
    expect(alone.udhcpc).toEqual({});
    expect(alone.ticks).toBe(0);
    expect(alone.log).toContain('WARNING: network: ip=eth1:off configures no NIC');
    const mixed = runSetupNetwork('ip=dhcp ip=eth1:off', { eth0, eth1 });
    expect(Object.keys(mixed.udhcpc)).toEqual(['eth0']);
  });

  it('ip=off: no DHCP and no wait; ip=dhcp6: no DHCPv4, a link awaited for SLAAC', () => {
    const off = runSetupNetwork('ip=off', { eth0, eth1 });
    expect(off.udhcpc).toEqual({});
    expect(off.ticks).toBe(0);
    const v6 = runSetupNetwork('ip=dhcp6', { eth0: { ...eth0, carrierAt: 4 }, eth1: { ...eth1, carrierAt: undefined } });
    expect(v6.udhcpc).toEqual({});
    expect(v6.ticks).toBe(4);
  });

  it('an ip= it cannot use is named and ignored: DHCP on every NIC as without it', () => {
    const run = runSetupNetwork('ip=eth9:dhcp ip=eth0:bogus', { eth0, eth1 });
    expect(Object.keys(run.udhcpc).sort()).toEqual(['eth0', 'eth1']);
    expect(run.log).toMatch(/BAD KERNEL PARAMETER ip=eth9:dhcp: 'eth9' is neither an IP address nor a network interface/);
    expect(run.log).toMatch(/BAD KERNEL PARAMETER ip=eth0:bogus: unknown method 'bogus' for eth0: ignored/);
  });
});
