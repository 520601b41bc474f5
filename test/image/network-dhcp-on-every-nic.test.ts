// The ramdisk's /init configures the network (image/rootfs/usr/lib/ramdisk/network.sh) with
// busybox sh, as in the image, on a stub machine (network-stub.ts): udhcpc runs on every NIC
// whatever its carrier, since a switch port with STP or LACP brings its link up late and
// nothing would start DHCP afterwards; /init waits only for the BOOTIF NIC's lease (or, with
// no BOOTIF, the first lease), so a port with no cable costs nothing. Time is counted in the
// script's own 0.2 s sleeps.
import { describe, expect, it } from 'vitest';
import { runSetupNetwork } from './network-stub.js';
import { busybox } from './ramdisk-shell.js';

const SECOND = 5; // ticks

describe.skipIf(!busybox)('the ramdisk runs DHCP on every NIC and waits for the BOOTIF one (busybox sh)', () => {
  it('a BOOTIF NIC whose link comes up after 12 s gets its lease, and /init waits for it', () => {
    const run = runSetupNetwork('BOOTIF=01-52-54-00-00-00-02', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '198.51.100.10/24' },
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 12 * SECOND, lease: '192.0.2.10/24' },
      eth2: { mac: '52:54:00:00:00:03' }, // no cable
    });
    expect(Object.keys(run.udhcpc).sort()).toEqual(['eth0', 'eth1', 'eth2']);
    // The BOOTIF NIC's default route wins: the lowest metric.
    expect(run.udhcpc.eth1).toMatch(/^METRIC=100 /);
    expect(run.udhcpc.eth0).toMatch(/^METRIC=101 /);
    expect(run.udhcpc.eth2).toMatch(/^METRIC=102 /);
    for (const args of Object.values(run.udhcpc)) {
      // -b: keeps asking in the background once the first round found no lease.
      expect(args).toMatch(/ -b /);
      expect(args).toMatch(/ -s \/usr\/share\/udhcpc\/default\.script /);
    }
    expect(run.leasedAt.eth1).toBe(12 * SECOND);
    // Returned as soon as the BOOTIF NIC had its lease: not at eth0's, not waiting for eth2.
    expect(run.ticks).toBe(run.leasedAt.eth1);
    expect(run.log).toMatch(/ramdisk: network: .*eth1 192\.0\.2\.10\/24/);
    expect(run.log).not.toMatch(/WARNING/);
  });

  it('without BOOTIF, an uncabled NIC costs nothing: /init goes on at the first lease', () => {
    const run = runSetupNetwork('', {
      eth0: { mac: '52:54:00:00:00:01' }, // no cable
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '192.0.2.10/24' },
    });
    expect(Object.keys(run.udhcpc).sort()).toEqual(['eth0', 'eth1']);
    expect(run.ticks).toBe(1);
    expect(run.log).not.toMatch(/WARNING/);
  });

  it('a BOOTIF NIC with no lease holds /init 30 s, then it goes on and says so', () => {
    const run = runSetupNetwork('BOOTIF=52:54:00:00:00:01', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0 }, // no DHCP server there
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '192.0.2.10/24' },
    });
    expect(run.ticks).toBe(30 * SECOND);
    expect(run.leasedAt.eth1).toBe(1);
    expect(run.log).toMatch(
      /WARNING: network: no DHCP lease on eth0 \(BOOTIF\) after 30 s \(still trying in the background on eth0 eth1\)/,
    );
  });
});
