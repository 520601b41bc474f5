/**
 * A DHCP-less ("layer 3") boot with our conductor: the machine gets a second CD, labelled
 * config-2 with a publisher ID, as Ironic's virtual media ISO for a node with network_data
 * (harness/config-drive-iso.ts), whose network_data.json gives its NIC 10.0.2.50/24 via
 * 10.0.2.2 statically, and `ir_pub_id=` naming that ID. QEMU's user network always runs a
 * DHCP server, which would lease 10.0.2.15: the checks are that the ramdisk never asked it
 * (the NIC holds 10.0.2.50 and no other IPv4 address, and the console names the static
 * configuration), and that everything the agent did went through that address: its lookup and
 * heartbeats reached the conductor, and the conductor reached the agent through a hostfwd to
 * 10.0.2.50 only. The machine still boots over PXE (the harness's way in), so BOOTIF= is on
 * the kernel line as in Ironic's virtual media boots of a node with a port.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/conductor/agent-client.js';
import type { ServingConductor } from '../../src/conductor/cli/serve.js';
import type { Inventory } from '../../src/hardware/inventory/types.js';
import { freePort } from '../interop/harness/free-port.js';
import { followNode } from './harness/follow.js';
import { conductorCli, startScenarioConductor } from './harness/our-conductor.js';
import { E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';

const PHASE_TIMEOUT_MS = 300_000;
const STATIC_ADDRESS = '10.0.2.50';
const PUBLISHER_ID = '5c3e9f1a-0b2d-4c6e-8f7a-1b2c3d4e5f60';
// Ironic's documented example (doc/source/admin/dhcp-less.rst), for this machine's NIC and network.
const NETWORK_DATA = {
  links: [{ id: 'port-e2e', type: 'phy', ethernet_mac_address: E2E_MAC }],
  networks: [
    {
      id: 'network0',
      type: 'ipv4',
      link: 'port-e2e',
      ip_address: STATIC_ADDRESS,
      netmask: '255.255.255.0',
      network_id: 'network0',
      routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }],
    },
  ],
  services: [{ type: 'dns', address: '10.0.2.3' }],
};
const skip = e2eSkipReason();
let world: E2eWorld | undefined;
let service: ServingConductor | undefined;

const cli = (...argv: string[]) => conductorCli(service!.url, ...argv);

describe.skipIf(skip)(`e2e: a DHCP-less boot configured from the config-2 CD${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    const apiPort = await freePort();
    world = await E2eWorld.create('DHCP-less', apiPort, {
      configDrive: { networkData: NETWORK_DATA, publisherId: PUBLISHER_ID },
      guestAddress: STATIC_ADDRESS,
      kernelParams: [`ir_pub_id=${PUBLISHER_ID}`],
    });
    service = await startScenarioConductor(world, apiPort);
  }, 120_000);

  afterAll(async () => {
    await world?.teardown(async () => service?.close());
  }, 60_000);

  it('the agent looks up, heartbeats and runs a step from the static address', { timeout: 900_000 }, async () => {
    const w = world!;
    const t = w.timeline;
    const conductor = service!.conductor;
    const say = (line: string) => t.say(line);
    const failure = () => `${w.failureContext()}\n--- conductor log: ${join(w.dir, 'conductor.log')}`;
    const uuid = (
      await cli(
        'enroll',
        '--name', 'e2e-dhcp-less-vm',
        '--power-interface', 'qemu',
        '--mac', E2E_MAC,
        '--no-automated-clean',
        ...Object.entries(w.vm.driverInfo()).flatMap(([k, v]) => ['--driver-info', `${k}=${JSON.stringify(v)}`]),
      )
    ).trim(); // prettier-ignore

    const steps = [{ interface: 'deploy', step: 'erase_devices_metadata', args: {} }];
    const cleaned = await t.phase('manual cleaning: erase_devices_metadata', async () => {
      await cli('clean', uuid, '--steps', JSON.stringify(steps));
      return followNode(conductor, uuid, { kind: 'clean', timeoutMs: PHASE_TIMEOUT_MS, say, failure });
    });
    expect(cleaned.lastError, failure()).toBeNull();
    expect(cleaned.provisionState).toBe('manageable');

    const consoleText = w.vm.consoleTail(100_000);
    expect(consoleText, failure()).toContain(
      `ramdisk: network: eth0 ${STATIC_ADDRESS}/24 via 10.0.2.2 (static, from network_data.json)`,
    );
    // QEMU's DHCP server leases 10.0.2.15: had udhcpc run on eth0, its hook would have put that
    // address in place of the static one, and /init's summary line would name it.
    expect(consoleText).not.toContain('10.0.2.15');
    expect(consoleText).not.toContain('no DHCP lease');

    const agent = new AgentClient({ ...conductor.conf.agent, commandTimeout: 30, maxCommandAttempts: 1 });
    try {
      const result = await agent.command(conductor.store.getNode(uuid), 'poll.get_hardware_info', {}, { wait: true });
      const inventory = result.command_result as Inventory;
      const nic = inventory.interfaces.find((i) => i.mac_address.toLowerCase() === E2E_MAC);
      expect(nic, JSON.stringify(inventory.interfaces)).toBeDefined();
      expect(nic!.ipv4_address).toBe(STATIC_ADDRESS);
      say(`the agent's inventory: ${nic!.name} ${nic!.mac_address} ${nic!.ipv4_address}`);
    } finally {
      await agent.close();
    }
  });
});
