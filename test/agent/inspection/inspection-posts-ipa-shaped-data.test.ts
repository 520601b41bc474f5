/**
 * In-band inspection against a fake inspector on 127.0.0.1: the data posted has IPA's keys
 * field by field (lists below are IPA's serializable_fields and collector keys), goes to the
 * URL IPA would choose, failures travel in `error`, and the UUID answered reaches the lookup.
 */
import { createServer } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { InspectionError } from '../../../src/agent/inspection/failures.js';
import { inspect } from '../../../src/agent/inspection/inspect.js';
import type { AgentConfig } from '../../../src/agent/config/schema.js';
import { run } from '../../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../../helpers/agent.js';
import { FakeConductor } from '../../helpers/fake-conductor.js';
import { FakeInspector } from '../../helpers/fake-inspector.js';

// ironic_python_agent/hardware.py serializable_fields and list_hardware_info.
const INVENTORY_KEYS = [
  'interfaces',
  'cpu',
  'disks',
  'memory',
  'bmc_address',
  'bmc_v6address',
  'system_vendor',
  'boot',
  'hostname',
];
const INTERFACE_KEYS = [
  'name',
  'mac_address',
  'ipv4_address',
  'ipv6_address',
  'has_carrier',
  'lldp',
  'vendor',
  'product',
  'client_id',
  'biosdevname',
  'speed_mbps',
  'pci_address',
  'driver',
];
const CPU_KEYS = ['model_name', 'frequency', 'count', 'architecture', 'flags', 'socket_count'];
const DISK_KEYS = [
  'name',
  'model',
  'size',
  'rotational',
  'wwn',
  'serial',
  'vendor',
  'wwn_with_extension',
  'wwn_vendor_extension',
  'hctl',
  'by_path',
  'logical_sectors',
  'physical_sectors',
  'tran',
];
// inspector.collect_pci_devices_info, numa_inspector, hardware.USBInfo.
const PCI_KEYS = ['vendor_id', 'product_id', 'class', 'revision', 'bus', 'numa_node_id'];

let macs: string[] = [];
let conductor: FakeConductor | undefined;
let inspector: FakeInspector | undefined;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await conductor?.close();
  await inspector?.close();
  conductor = inspector = undefined;
});

async function standaloneAgent(): Promise<RunningAgent> {
  const agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
  agents.push(agent);
  // A standalone agent answers before its managers start; inspect() below reads them.
  await agent.ready;
  return agent;
}

/** The agent's services with inspection settings, for calling inspect() directly. */
function servicesWith(agent: RunningAgent, config: Partial<AgentConfig>) {
  return { ...agent.services, config: { ...agent.services.config, inspectionDhcpWaitTimeout: 0, ...config } };
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('inspection before lookup', () => {
  it('posts IPA-shaped data to the inspector callback, then looks up with the UUID it answered', async () => {
    expect(macs.length, 'this machine needs a NIC with a MAC').toBeGreaterThan(0);
    conductor = await FakeConductor.start({ maxVersion: '1.82' });
    inspector = await FakeInspector.start();
    const node = conductor.addNode(macs);
    inspector.enroll(macs, node.uuid);
    const firstHeartbeat = conductor.nextHeartbeat();
    const agent = await startTestAgent({
      standalone: false,
      agentToken: undefined,
      apiUrls: [conductor.url],
      lookupInterval: 0.05,
      enableAutoTls: false,
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
      inspectionCallbackUrl: `${inspector.url}/v1/continue`,
      inspectionCollectors: 'default,pci-devices,numa-topology,usb-devices',
      inspectionDhcpWaitTimeout: 0,
    });
    agents.push(agent);

    expect(inspector.posts.map((p) => [p.path, p.status])).toEqual([['/v1/continue', 200]]);
    const post = inspector.posts[0]!;
    expect(post.headers['content-type']).toBe('application/json');
    const data = post.body;
    expect(Object.keys(data).sort()).toEqual(
      [
        'inventory',
        'boot_interface',
        'configuration',
        'error',
        'pci_devices',
        'numa_topology',
        'usb_devices',
        ...('root_disk' in data ? ['root_disk'] : []),
      ].sort(),
    );
    expect(data.error).toBeNull();
    const inventory = data.inventory as Record<string, any>;
    expect(
      Object.keys(inventory)
        .filter((k) => k !== 'bmc_mac')
        .sort(),
    ).toEqual([...INVENTORY_KEYS].sort());
    for (const iface of inventory.interfaces) expect(Object.keys(iface).sort()).toEqual([...INTERFACE_KEYS].sort());
    expect(inventory.interfaces.map((i: { mac_address: string }) => i.mac_address)).toEqual(expect.arrayContaining(macs));
    expect(Object.keys(inventory.cpu).sort()).toEqual([...CPU_KEYS].sort());
    // `smart` is this project's one addition to IPA's disk (SMART health, when smartctl exists).
    const diskKeys = (disk: object) =>
      Object.keys(disk)
        .filter((k) => k !== 'smart')
        .sort();
    for (const disk of inventory.disks) expect(diskKeys(disk)).toEqual([...DISK_KEYS].sort());
    if (data.root_disk) expect(diskKeys(data.root_disk as object)).toEqual([...DISK_KEYS].sort());
    expect(Object.keys(inventory.boot).sort()).toEqual(['current_boot_mode', 'pxe_interface']);
    expect(data.boot_interface).toBe(inventory.boot.pxe_interface);
    const managers = agent.services.hardware.managers.map(({ manager }) => ({ name: manager.name, version: manager.version }));
    expect(managers.length).toBeGreaterThan(0);
    expect(data.configuration).toEqual({ collectors: ['default', 'pci-devices', 'numa-topology', 'usb-devices'], managers });
    const pci = data.pci_devices as Array<Record<string, unknown>>;
    expect(pci.length).toBeGreaterThan(0);
    for (const device of pci) {
      expect(Object.keys(device)).toEqual(PCI_KEYS);
      expect(device.vendor_id).toMatch(/^[0-9a-f]{4}$/);
      expect(device.bus).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    }
    expect(Object.keys(data.numa_topology as object)).toEqual(['ram', 'cpus', 'nics']);
    expect(Array.isArray(data.usb_devices)).toBe(true);

    // The lookup that followed carried the inspected node's UUID, and the agent went on as usual.
    expect(conductor.lookups.at(-1)).toMatchObject({ status: 200, nodeUuid: node.uuid });
    expect((await firstHeartbeat).status).toBe(202);
  });

  it("sends to each API URL's /v1/continue_inspection when only collectors are configured, logs included", async () => {
    inspector = await FakeInspector.start();
    const uuid = inspector.enroll(macs);
    const agent = await standaloneAgent();
    const services = servicesWith(agent, { apiUrls: [inspector.url], inspectionCollectors: 'default,logs' });
    await expect(inspect(services)).resolves.toBe(uuid);
    expect(inspector.posts.map((p) => [p.path, p.status])).toEqual([['/v1/continue_inspection', 202]]);
    const logs = Buffer.from(inspector.posts[0]!.body.logs as string, 'base64');
    // A tar.gz holding the inventory, as IPA's ramdisk_error hook expects.
    expect(gunzipSync(logs).toString('latin1')).toContain('inventory.json');
  });

  it("fills the inventory interfaces' lldp after ipa-lldp-timeout with ipa-collect-lldp, and leaves it null without", async () => {
    const agent = await startTestAgent({ hardwareManagerPaths: [FIXTURE_MANAGERS], collectLldp: true, lldpTimeout: 1 });
    agents.push(agent);
    const client = new AgentTestClient(agent.url, 'test-token-0123456789abcdef0123456789');
    const started = Date.now();
    const { body } = await client.post('poll.get_hardware_info', {}, true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    // No switch sends LLDP to this machine: every NIC was listened on and heard nothing.
    for (const iface of body.command_result.interfaces) expect(iface.lldp).toEqual([]);
    const plain = await new AgentTestClient((await standaloneAgent()).url, 'test-token-0123456789abcdef0123456789').post(
      'poll.get_hardware_info',
      {},
      true,
    );
    for (const iface of plain.body.command_result.interfaces) expect(iface.lldp).toBeNull();
  });

  it('with only a callback URL, inspects and serves without lookup or heartbeats, as IPA', async () => {
    inspector = await FakeInspector.start();
    inspector.enroll(macs);
    const agent = await startTestAgent({
      standalone: false,
      agentToken: undefined,
      apiUrls: [],
      enableAutoTls: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
      inspectionCallbackUrl: `${inspector.url}/v1/continue`,
      inspectionCollectors: 'default',
      inspectionDhcpWaitTimeout: 0,
    });
    agents.push(agent);
    expect(inspector.posts.map((p) => p.status)).toEqual([200]);
    expect(agent.conductor).toBeUndefined();
    expect(agent.serving).toBe(true);
    // No token was ever issued: nothing can be run on it.
    expect((await new AgentTestClient(agent.url, undefined).list()).status).toBe(401);
  });

  it('is off without a callback URL and without configured collectors', async () => {
    const agent = await standaloneAgent();
    await expect(inspect(servicesWith(agent, { apiUrls: ['http://127.0.0.1:9'] }))).resolves.toBeUndefined();
  });

  it('reports an unknown collector to the inspector, then fails', async () => {
    inspector = await FakeInspector.start();
    const agent = await standaloneAgent();
    const services = servicesWith(agent, {
      inspectionCallbackUrl: `${inspector.url}/v1/continue`,
      inspectionCollectors: 'default,nope',
    });
    await expect(inspect(services)).rejects.toThrow(InspectionError);
    expect(inspector.posts).toHaveLength(1);
    expect(inspector.posts[0]!.body).toEqual({
      error: "The following errors were encountered:\n* Failed to load collector ['nope']",
    });
  });

  it('posts what it has when a collector fails, with the failure in error, and does not use the answer', async () => {
    inspector = await FakeInspector.start();
    inspector.enroll(macs);
    const agent = await standaloneAgent();
    // hardware-detect (python-hardware) is not part of this machine or the ramdisk.
    const services = servicesWith(agent, {
      inspectionCallbackUrl: `${inspector.url}/v1/continue`,
      inspectionCollectors: 'default,extra-hardware',
    });
    await expect(inspect(services)).rejects.toThrow(/failed to run hardware-detect utility: hardware-detect is not installed/);
    const body = inspector.posts[0]!.body;
    expect(body.inventory).toBeDefined();
    expect(body.data).toBeUndefined();
    expect(body.error).toBe(
      'The following errors were encountered:\n* failed to run hardware-detect utility: hardware-detect is not installed',
    );
  });

  it('retries 5xx and 409, tries the next URL on a connection error, and stops on another 4xx', async () => {
    inspector = await FakeInspector.start();
    const uuid = inspector.enroll(macs);
    const agent = await standaloneAgent();
    const urls = `http://127.0.0.1:${await deadPort()}/v1/continue,${inspector.url}/v1/continue`;
    const services = servicesWith(agent, { inspectionCallbackUrl: urls, inspectionCollectors: 'default' });
    inspector.failNext = [503, 409];
    await expect(inspect(services, { retryWait: () => 0.01 })).resolves.toBe(uuid);
    expect(inspector.posts.map((p) => p.status)).toEqual([503, 409, 200]);

    inspector.posts.length = 0;
    inspector.known.clear();
    await expect(inspect(services, { retryWait: () => 0.01 })).rejects.toThrow(
      'stopping inspection, as inspector returned an error',
    );
    expect(inspector.posts.map((p) => p.status)).toEqual([404]);
  });

  it('gives up after five attempts when the inspector keeps failing', async () => {
    inspector = await FakeInspector.start();
    const agent = await standaloneAgent();
    inspector.failNext = [500, 500, 500, 500, 500, 500];
    const services = servicesWith(agent, {
      inspectionCallbackUrl: `${inspector.url}/v1/continue`,
      inspectionCollectors: 'default',
    });
    await expect(inspect(services, { retryWait: () => 0.01 })).rejects.toThrow(/after 5 attempts/);
    expect(inspector.posts).toHaveLength(5);
  });
});
