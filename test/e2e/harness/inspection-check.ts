/**
 * The burn-in image's place, and what the e2e machine must say about itself when it inspects
 * itself: the checks are against what QEMU was told (disk serials, MAC, CPUs, memory, BIOS
 * boot), so a collector that reads the wrong source fails here.
 */
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import type { Inventory } from '../../../src/hardware/inventory/types.js';

/** RAMDISK_AGENT_BURNIN_IMAGE_DIR, else dist/image-burnin (`make e2e` builds it with BURNIN=1). */
export function burninImageDir(): string {
  return resolve(
    process.env.RAMDISK_AGENT_BURNIN_IMAGE_DIR ?? join(import.meta.dirname, '..', '..', '..', 'dist', 'image-burnin'),
  );
}

/** Serial → what the disk is, as harness/vm.ts attaches them. */
const DISKS: Record<string, 'virtio' | 'nvme' | 'sata'> = { 'E2E-VIRTIO': 'virtio', 'E2E-NVME': 'nvme', 'E2E-SATA': 'sata' };

export function checkInspectionPayload(
  body: Record<string, unknown>,
  machine: { mac: string; cpus: number; memoryMiB: number },
): string {
  const inventory = body.inventory as Inventory;
  expect(inventory, 'inventory in the inspection data').toBeDefined();
  const disks = inventory.disks.filter((d) => d.serial !== null && d.serial in DISKS);
  expect(disks.map((d) => d.serial).sort()).toEqual(Object.keys(DISKS).sort());
  const nvme = disks.find((d) => DISKS[d.serial!] === 'nvme')!;
  expect(nvme.size).toBe(4 * 1024 ** 3);
  expect((body.root_disk as { serial?: string } | undefined)?.serial).toBe('E2E-NVME');
  // SMART: QEMU answers for its SATA (ATA SMART) and NVMe (SMART log) disks; virtio-blk has none.
  for (const disk of disks.filter((d) => DISKS[d.serial!] !== 'virtio')) {
    expect(disk.smart, `smart of ${disk.name} (${disk.serial})`).toMatchObject({ available: true, passed: true });
  }

  const nic = inventory.interfaces.find((i) => i.mac_address.toLowerCase() === machine.mac.toLowerCase());
  expect(nic, `an interface with MAC ${machine.mac}: ${JSON.stringify(inventory.interfaces)}`).toBeDefined();
  expect(nic!.ipv4_address).toBe('10.0.2.15');
  // IPA reports BOOTIF as the kernel line gives it (iPXE's `01-<mac with dashes>`).
  expect(body.boot_interface).toBe(`01-${machine.mac.toLowerCase().replace(/:/g, '-')}`);
  // No LLDP collector asked for and no switch on QEMU's user network.
  expect(body.lldp_raw).toBeUndefined();
  for (const i of inventory.interfaces) expect(i.lldp ?? [], `lldp of ${i.name}`).toEqual([]);

  expect(inventory.cpu.count).toBe(machine.cpus);
  const physicalMb = inventory.memory.physical_mb ?? 0;
  expect(physicalMb).toBeGreaterThanOrEqual(machine.memoryMiB);
  expect(physicalMb).toBeLessThanOrEqual(machine.memoryMiB + 128);
  expect(inventory.boot.current_boot_mode).toBe('bios');
  expect(typeof body.logs).toBe('string');

  const smart = disks
    .filter((d) => d.smart?.available)
    .map(
      (d) =>
        `${d.serial} ${d.smart!.protocol}${d.smart!.temperature_celsius !== null ? ` ${d.smart!.temperature_celsius} °C` : ''}`,
    );
  return [
    `disks ${disks.map((d) => `${d.name}=${d.serial}`).join(', ')}`,
    `NIC ${nic!.name} ${nic!.mac_address}`,
    `${inventory.cpu.count} CPUs`,
    `memory ${physicalMb} MiB (total ${((inventory.memory.total ?? 0) / 2 ** 20).toFixed(0)} MiB)`,
    `boot ${inventory.boot.current_boot_mode}`,
    `SMART: ${smart.join(', ')}`,
    `logs ${((body.logs as string).length / 1024).toFixed(0)} KiB base64`,
  ].join('; ');
}
