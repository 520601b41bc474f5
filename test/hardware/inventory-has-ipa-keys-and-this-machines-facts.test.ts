/**
 * The inventory on this machine has IPA's exact keys and types (reference §11), agrees with
 * what Node and the kernel say independently, and `poll.get_hardware_info` serves it. The
 * lscpu and ip parsers are pinned on real outputs captured here (test/fixtures/inventory).
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, hostname, machine, networkInterfaces, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunningAgent } from '../../src/agent/agent.js';
import { run } from '../../src/hardware/exec.js';
import { listBlockDevices } from '../../src/hardware/block-devices.js';
import { cpuFromLscpu, parseCpuFlags, parseLscpu } from '../../src/hardware/inventory/cpu.js';
import { inventoryDisks } from '../../src/hardware/inventory/disks.js';
import { collectInventory, type Inventory } from '../../src/hardware/inventory/index.js';
import { parseIpAddr } from '../../src/hardware/inventory/interfaces.js';
import { parseDmidecodeMemory, parseMemTotal } from '../../src/hardware/inventory/memory.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../helpers/agent.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'inventory');

const nullableString = z.string().nullable();
/** IPA's inventory, strictly: an extra or missing key fails. */
const inventorySchema = z.strictObject({
  interfaces: z.array(
    z.strictObject({
      name: z.string(),
      mac_address: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
      ipv4_address: nullableString,
      ipv6_address: nullableString,
      has_carrier: z.boolean(),
      lldp: z.array(z.tuple([z.number().int(), z.string()])).nullable(),
      vendor: nullableString,
      product: nullableString,
      client_id: nullableString,
      biosdevname: nullableString,
      speed_mbps: z.number().int().nullable(),
      pci_address: nullableString,
      driver: nullableString,
    }),
  ),
  cpu: z.strictObject({
    model_name: nullableString,
    frequency: nullableString,
    count: z.number().int().positive(),
    architecture: nullableString,
    flags: z.array(z.string()),
    socket_count: z.number().int().nullable(),
  }),
  disks: z.array(
    z.strictObject({
      name: z.string().startsWith('/dev/'),
      model: nullableString,
      size: z.number().int().positive(),
      rotational: z.boolean(),
      wwn: nullableString,
      serial: nullableString,
      vendor: nullableString,
      wwn_with_extension: nullableString,
      wwn_vendor_extension: nullableString,
      hctl: nullableString,
      by_path: nullableString,
      logical_sectors: z.number().int().positive(),
      physical_sectors: z.number().int().positive(),
      tran: nullableString,
      // Not IPA's: the SMART health summary, beside IPA's keys (whatever smartctl made of the disk).
      smart: z.object({ available: z.boolean(), passed: z.boolean().nullable(), problems: z.array(z.unknown()) }).optional(),
    }),
  ),
  memory: z.strictObject({ total: z.number().int().positive().nullable(), physical_mb: z.number().int().nullable() }),
  bmc_address: nullableString,
  bmc_v6address: nullableString,
  bmc_mac: z.string().optional(),
  system_vendor: z.strictObject({
    product_name: z.string(),
    serial_number: z.string(),
    manufacturer: z.string(),
    firmware: z.strictObject({ vendor: z.string(), version: z.string(), build_date: z.string() }),
  }),
  boot: z.strictObject({ current_boot_mode: z.enum(['uefi', 'bios']), pxe_interface: nullableString }),
  hostname: z.string(),
});

describe('inventory on this machine', () => {
  let inventory: Inventory;
  beforeAll(async () => {
    inventory = await collectInventory({
      exec: run,
      listDisks: async () => inventoryDisks(await listBlockDevices(run)),
      bootif: '01-52-54-00-12-34-56',
    });
  });

  it('has exactly IPA keys and value types', () => {
    const parsed = inventorySchema.safeParse(inventory);
    expect(parsed.success ? 'ok' : z.prettifyError(parsed.error)).toBe('ok');
    expect(Object.keys(inventory)).toEqual(
      expect.arrayContaining([
        'interfaces',
        'cpu',
        'disks',
        'memory',
        'bmc_address',
        'bmc_v6address',
        'system_vendor',
        'boot',
        'hostname',
      ]),
    );
  });

  it('lists the physical NICs with their burnt-in MAC and addresses, not loopback or virtual devices', () => {
    const names = inventory.interfaces.map((i) => i.name);
    expect(names).not.toContain('lo');
    for (const name of names)
      expect(existsSync(`/sys/class/net/${name}/device`) || existsSync(`/sys/class/net/${name}/bonding`)).toBe(true);
    const fromNode = networkInterfaces();
    for (const iface of inventory.interfaces) {
      const v4 = fromNode[iface.name]?.find((a) => a.family === 'IPv4')?.address ?? null;
      expect(iface.ipv4_address).toBe(v4);
      expect(iface.mac_address).not.toMatch(/^fa:/);
    }
    const eth = inventory.interfaces.find((i) => i.driver !== null);
    if (eth) expect(eth.pci_address).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
  });

  it('agrees with the kernel on CPUs, memory, boot mode and host name', () => {
    expect(inventory.cpu.count).toBe(cpus().length);
    expect(inventory.cpu.architecture).toBe(machine());
    expect(inventory.cpu.flags.length).toBeGreaterThan(0);
    expect(inventory.memory.total).toBe(totalmem());
    expect(inventory.boot).toEqual({
      current_boot_mode: existsSync('/sys/firmware/efi') ? 'uefi' : 'bios',
      pxe_interface: '01-52-54-00-12-34-56',
    });
    expect(inventory.hostname).toBe(hostname());
  });

  it('has no BMC where there is no IPMI device (null, not an error)', () => {
    if (existsSync('/dev/ipmi0')) return;
    expect(inventory.bmc_address).toBeNull();
    expect(inventory.bmc_v6address).toBeNull();
    expect(inventory).not.toHaveProperty('bmc_mac');
  });

  it('lists whole disks (and md/multipath devices) only: no loop, ram or zero-sized devices', async () => {
    // Other tests attach loop devices and md arrays concurrently: compare kinds, not snapshots.
    const all = await listBlockDevices(run);
    for (const disk of inventory.disks) {
      const device = all.find((d) => d.path === disk.name);
      if (device) expect(device.type).toMatch(/^(disk|raid\d*|mpath)$/);
      expect(disk.name).not.toMatch(/^\/dev\/(loop|ram|zram|fd)/);
    }
    const physical = all.filter((d) => d.type === 'disk' && d.sizeBytes > 0 && !/^(ram|zram|fd)/.test(d.name)).map((d) => d.path);
    expect(inventory.disks.map((d) => d.name)).toEqual(expect.arrayContaining(physical));
  });

  it("reports each disk's model as lsblk prints it, null where it has none (IPA's BlockDevice takes lsblk's value)", async () => {
    // IPA's own lsblk call (list_all_block_devices); a virtio disk has no MODEL: JSON null.
    const { stdout } = await run('lsblk', ['-bia', '--json', '-oKNAME,MODEL'], { quiet: true });
    const lsblk = JSON.parse(stdout) as { blockdevices: Array<{ kname: string; model: string | null }> };
    const models = new Map(lsblk.blockdevices.map((d) => [`/dev/${d.kname}`, d.model?.trim() ?? null]));
    expect(inventory.disks.length).toBeGreaterThan(0);
    for (const disk of inventory.disks) if (models.has(disk.name)) expect(disk.model).toBe(models.get(disk.name));
  });
});

describe('inventory parsers on captured output', () => {
  it('reads lscpu as IPA does: model name, max MHz as a string, CPU(s), sockets', () => {
    const cpu = cpuFromLscpu(parseLscpu(readFileSync(join(FIXTURES, 'lscpu-kvm-xeon.txt'), 'utf8')), ['fpu']);
    expect(cpu).toEqual({
      model_name: 'Intel(R) Xeon(R) Processor',
      frequency: null, // this KVM guest reports no MHz at all
      count: 2,
      architecture: 'x86_64',
      flags: ['fpu'],
      socket_count: 1,
    });
  });

  it('takes the flags from the first flags line of /proc/cpuinfo', () => {
    expect(parseCpuFlags('processor\t: 0\nflags\t\t: fpu vme de\n\nprocessor\t: 1\nflags\t\t: other\n')).toEqual([
      'fpu',
      'vme',
      'de',
    ]);
    expect(parseCpuFlags('Features\t: fp asimd evtstrm\n')).toEqual(['fp', 'asimd', 'evtstrm']);
  });

  it('parses ip -j -d addr with link kinds and addresses', () => {
    const entries = parseIpAddr(readFileSync(join(FIXTURES, 'ip-addr-kvm.json'), 'utf8'));
    const eth0 = entries.find((e) => e.ifname === 'eth0')!;
    expect(eth0.address).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(eth0.addr_info.some((a) => a.family === 'inet')).toBe(true);
    expect(entries.find((e) => e.ifname === 'ifb0')?.linkinfo?.info_kind).toBe('ifb');
    expect(entries.find((e) => e.ifname === 'lo')?.link_type).toBe('loopback');
  });

  it('memory: MemTotal in bytes; DIMM sizes summed in MiB, null without any module', () => {
    expect(parseMemTotal('MemTotal:       24684084 kB\nMemFree: 1 kB\n')).toBe(24684084 * 1024);
    expect(parseDmidecodeMemory('# dmidecode 3.4\nScanning /dev/mem for entry point.\n')).toBeNull();
    const twoDimms =
      'Handle 0x1100, DMI type 17, 40 bytes\nMemory Device\n\tSize: 16 GB\n\tLocator: A1\n\n' +
      'Handle 0x1101, DMI type 17, 40 bytes\nMemory Device\n\tSize: No Module Installed\n\tLocator: A2\n\n' +
      'Handle 0x1102, DMI type 17, 40 bytes\nMemory Device\n\tSize: 8192 MB\n\tLocator: B1\n';
    expect(parseDmidecodeMemory(twoDimms)).toBe(16 * 1024 + 8192);
  });
});

describe('poll.get_hardware_info', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
  });
  afterAll(async () => agent.close());

  it('returns a freshly collected inventory as the command result', async () => {
    const client = new AgentTestClient(agent.url);
    const { status, body } = await client.post('poll.get_hardware_info', {}, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    const parsed = inventorySchema.safeParse(body.command_result);
    expect(parsed.success ? 'ok' : z.prettifyError(parsed.error)).toBe('ok');
  });

  it('poll.set_node_info caches the node of a standalone agent (IPA refuses it otherwise)', async () => {
    const client = new AgentTestClient(agent.url);
    const { status, body } = await client.post('poll.set_node_info', { node_info: { node: { uuid: 'x' } } }, true);
    // This agent is standalone: the node is cached.
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    expect(agent.services.node.current?.uuid).toBe('x');
  });
});

describe('list_hardware_info extension point', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startTestAgent({
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS, join(import.meta.dirname, '..', 'fixtures', 'inventory-managers')],
    });
  });
  afterAll(async () => agent.close());

  it('hands the collected inventory to the best manager that extends it, and returns its result', async () => {
    const { body } = await new AgentTestClient(agent.url).post('poll.get_hardware_info', {}, true);
    expect(body.command_status).toBe('SUCCEEDED');
    const result = body.command_result;
    expect(result.disk_enclosures).toEqual([{ id: 'enc0', slots: 12 }]);
    expect(result.cpu.vendor_microcode).toBe('0x2b000461');
    expect(result.cpu.count).toBe(cpus().length);
    expect(result.hostname).toBe(hostname());
  });
});
