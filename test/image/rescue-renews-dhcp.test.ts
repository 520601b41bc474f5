// After rescue.finalize_rescue Ironic moves the node's ports from the rescuing network to the
// tenant network, and the user SSHes into the ramdisk there. A udhcpc bound on the rescuing
// network would keep its lease until T1 (12 h with Neutron's default lease): as IPA's ramdisks
// (tinyipa restarted udhcpc after rescue), init's rescue-sshd has DHCP run again on every NIC
// DHCP configured, once the DHCP server there gives another address, and leaves NICs
// configured statically alone. Run with busybox sh over the stub machine of network-stub.ts
// (rescue-stub.ts); time is the stub clock's, from the hand-over.
import { afterEach, describe, expect, it } from 'vitest';
import { bootStubMachine, createStubMachine, removeStubMachine, type StubMachine } from './network-stub.js';
import { busybox } from './ramdisk-shell.js';
import { handOverToRescue } from './rescue-stub.js';

const SECOND = 5; // ticks
// A short watch keeps the test quick; the ramdisk's default is 300 s.
const WATCH = { RESCUE_DHCP_WINDOW: '60' };

describe.skipIf(!busybox)('after finalize_rescue the NICs DHCP configured take the tenant network (busybox sh)', () => {
  let machine: StubMachine | undefined;
  afterEach(() => {
    if (machine) removeStubMachine(machine);
    machine = undefined;
  });

  it('restarts udhcpc on a NIC whose port moved, keeps a NIC whose network stayed, never touches a static one', async () => {
    machine = createStubMachine('ip=eth0:dhcp ip=eth1:dhcp ip=192.0.2.50::192.0.2.1:24::eth2:none', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '10.0.0.5/24' }, // on the rescuing network
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 0, lease: '198.51.100.20/24' }, // a network outside Ironic
      eth2: { mac: '52:54:00:00:00:03', carrierAt: 0 },
    });
    const boot = bootStubMachine(machine);
    expect(Object.keys(boot.udhcpc).sort()).toEqual(['eth0', 'eth1']);

    // Ironic deletes the rescuing port 6 s after the hand-over and binds the tenant port at 14 s.
    const rescue = await handOverToRescue(
      machine,
      {
        eth0: [
          [6, undefined],
          [14, '203.0.113.7/24'],
        ],
      },
      WATCH,
    );

    // eth0: one new udhcpc, started as at boot (same metric, same hook), after the old one ended.
    expect(rescue.kills.eth0).toHaveLength(1);
    expect(rescue.starts.eth0).toEqual(rescue.kills.eth0);
    expect(rescue.starts.eth0![0]).toBeGreaterThanOrEqual(14 * SECOND);
    expect(rescue.udhcpc.eth0).toBe(boot.udhcpc.eth0);
    const tenant = rescue.leases.find((lease) => lease.nic === 'eth0');
    expect(tenant?.address).toBe('203.0.113.7/24');
    // Reachable within one probe interval (5 s) and a tick of the port's move.
    expect(tenant!.tick - 14 * SECOND).toBeLessThanOrEqual(5 * SECOND + 1);
    expect(rescue.log).toMatch(
      /ramdisk: rescue: eth0 203\.0\.113\.7\/24 \(DHCP; it had 10\.0\.0\.5\/24\): ssh rescue@203\.0\.113\.7/,
    );

    // eth1's server kept giving the same address: its lease (and SSH sessions on it) stay.
    expect(rescue.kills.eth1).toBeUndefined();
    expect(rescue.starts.eth1).toEqual([]);
    expect(rescue.log).toMatch(/ramdisk: rescue: eth1 keeps 198\.51\.100\.20\/24 \(no other DHCP offer in 60 s\)/);

    // eth2 (ip= static) is left as it is: no udhcpc, nothing done to it.
    expect(rescue.starts.eth2).toBeUndefined();
    expect(rescue.ip.filter((command) => / eth2\b/.test(command))).toEqual([]);

    expect(rescue.log).toContain('ramdisk: rescue: SSH login enabled for user rescue');
    expect(rescue.dropbear).toEqual(['-R -F -E -p 22']);
    expect(rescue.passwd).toMatch(/^rescue:x:0:0:/m);
  });

  it('a NIC with no lease at the hand-over keeps its udhcpc, which takes the tenant lease itself', async () => {
    machine = createStubMachine('', {
      eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '10.0.0.5/24' },
      eth1: { mac: '52:54:00:00:00:02', carrierAt: 0 }, // no DHCP server until its port moves
    });
    bootStubMachine(machine);
    const rescue = await handOverToRescue(machine, { eth0: [[3, '203.0.113.7/24']], eth1: [[3, '203.0.113.8/24']] }, WATCH);
    expect(rescue.kills.eth0).toHaveLength(1);
    expect(rescue.kills.eth1).toBeUndefined();
    expect(rescue.starts.eth1).toEqual([]);
    expect(rescue.leases.filter((lease) => lease.nic === 'eth1').map((lease) => lease.address)).toEqual(['203.0.113.8/24']);
    expect(rescue.log).toMatch(/ramdisk: rescue: eth0 203\.0\.113\.7\/24 \(DHCP; it had 10\.0\.0\.5\/24\)/);
    expect(rescue.log).toMatch(/ramdisk: rescue: eth1 203\.0\.113\.8\/24 \(DHCP; it had no address\)/);
    // Both NICs moved: the watch ends there, long before its 60 s.
    expect(rescue.log).toMatch(/ramdisk: rescue: network: .*eth0 203\.0\.113\.7\/24/);
    expect(rescue.log).not.toMatch(/keeps|no DHCP lease/);
  });

  it('runs once: rescue-sshd started again when dropbear ends does not restart DHCP again', async () => {
    machine = createStubMachine('', { eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '10.0.0.5/24' } });
    bootStubMachine(machine);
    const rescue = await handOverToRescue(machine, { eth0: [[2, '203.0.113.7/24']] }, WATCH, 2);
    expect(rescue.kills.eth0).toHaveLength(1);
    expect(rescue.starts.eth0).toHaveLength(1);
    expect(rescue.dropbear).toHaveLength(2);
    expect(rescue.log.match(/rescue: eth0 203\.0\.113\.7\/24/g)).toHaveLength(1);
  });

  it('a machine configured without DHCP (ip= static) keeps its network and says so', async () => {
    machine = createStubMachine('ip=192.0.2.50::192.0.2.1:24::eth0:none', { eth0: { mac: '52:54:00:00:00:01', carrierAt: 0 } });
    bootStubMachine(machine);
    const rescue = await handOverToRescue(machine, {}, WATCH);
    expect(rescue.starts).toEqual({});
    expect(rescue.kills).toEqual({});
    expect(rescue.ip.filter((command) => / eth0\b/.test(command))).toEqual([]);
    expect(rescue.log).toContain('ramdisk: rescue: no NIC has DHCP: the network stays as configured at boot');
    expect(rescue.dropbear).toEqual(['-R -F -E -p 22']);
  });
});
