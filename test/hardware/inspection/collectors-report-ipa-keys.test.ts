/**
 * The hardware readers behind IPA's collectors: dmidecode and lshw output captured by IPA's
 * own tests (see the fixtures README) give exactly IPA's result; PCI and NUMA read this
 * machine's /sys and agree with what the kernel reports elsewhere.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDmi } from '../../../src/hardware/inspection/dmi-decode.js';
import { collectNumaTopology, memTotalKb } from '../../../src/hardware/inspection/numa-topology.js';
import { collectPciDevices } from '../../../src/hardware/inspection/pci-devices.js';
import { usbDevicesFromLshw } from '../../../src/hardware/inspection/usb-devices.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'inspection');

describe('dmi-decode', () => {
  it("gives IPA's dmi data for a real server's dmidecode output", async () => {
    const text = await readFile(join(FIXTURES, 'ipa-dmidecode.txt'), 'utf8');
    const expected = JSON.parse(await readFile(join(FIXTURES, 'ipa-dmidecode.expected.json'), 'utf8'));
    expect({ dmi: parseDmi(text) }).toEqual(expected);
  });

  it('gives empty sections for output without handles', () => {
    expect(parseDmi('# dmidecode 3.4\nNo SMBIOS nor DMI entry point found, sorry.\n')).toEqual({
      bios: {},
      cpu: [],
      memory: { devices: [] },
    });
  });
});

describe('usb-devices', () => {
  it("finds the USB device of IPA's lshw sample at any depth", async () => {
    const json = await readFile(join(FIXTURES, 'ipa-lshw-v1.json'), 'utf8');
    expect(usbDevicesFromLshw(json)).toEqual([{ product: 'MyProduct', vendor: 'MyVendor', handle: 'USB:1:2' }]);
    // Newer lshw wraps the tree in a list.
    expect(usbDevicesFromLshw(`[${json}]`)).toEqual(usbDevicesFromLshw(json));
  });
});

describe('pci-devices', () => {
  it('lists every PCI function of this machine with its ids as /sys has them, without 0x', async () => {
    const devices = await collectPciDevices();
    const buses = (await readdir('/sys/bus/pci/devices')).sort();
    expect(devices.map((d) => d.bus)).toEqual(buses);
    for (const device of devices) {
      const raw = (await readFile(join('/sys/bus/pci/devices', device.bus, 'vendor'), 'utf8')).trim();
      expect(`0x${device.vendor_id}`).toBe(raw);
      expect(device.class).toMatch(/^[0-9a-f]{6}$/);
    }
  });
});

describe('numa-topology', () => {
  it('accounts for every CPU thread of this machine once', async () => {
    const topology = await collectNumaTopology();
    expect(topology).toBeDefined();
    const threads = topology!.cpus.flatMap((c) => c.thread_siblings);
    expect(new Set(threads).size).toBe(threads.length);
    expect(threads.length).toBe(availableParallelism());
    expect(topology!.ram.length).toBeGreaterThan(0);
    for (const node of topology!.ram) expect(node.size_kb).toBeGreaterThan(0);
  });

  it('lists NUMA nodes and CPU threads in sysfs number order (node2 before node10)', async () => {
    const sys = mkdtempSync(join(tmpdir(), 'numa-sysfs-'));
    try {
      const nodeDir = (n: number) => join(sys, 'devices', 'system', 'node', `node${n}`);
      for (const n of [10, 0, 2]) {
        mkdirSync(nodeDir(n), { recursive: true });
        writeFileSync(join(nodeDir(n), 'meminfo'), `Node ${n} MemTotal:       ${1000 + n} kB\n`);
      }
      writeFileSync(join(nodeDir(0), 'cpulist'), '2,10\n');
      for (const thread of [10, 2]) {
        mkdirSync(join(nodeDir(0), `cpu${thread}`, 'topology'), { recursive: true });
        writeFileSync(join(nodeDir(0), `cpu${thread}`, 'topology', 'core_id'), '1\n');
      }
      mkdirSync(join(sys, 'class', 'net'), { recursive: true });
      const topology = await collectNumaTopology(sys);
      expect(topology!.ram.map((r) => r.numa_node)).toEqual([0, 2, 10]);
      expect(topology!.cpus).toEqual([{ cpu: 1, numa_node: 0, thread_siblings: [2, 10] }]);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });

  it('reads the per-node MemTotal line in kB', () => {
    expect(memTotalKb('Node 0 MemTotal:       16318496 kB\nNode 0 MemFree:  1 kB\n')).toBe(16318496);
    expect(() => memTotalKb('Node 0 MemFree: 1 kB\n')).toThrow(/not available/);
  });
});
