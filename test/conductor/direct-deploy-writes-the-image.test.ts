/**
 * The `direct` deploy interface end to end with the shipped image writer: a real agent
 * (allow-list = scratch devices this test made) downloads a whole-disk image over HTTP from
 * 127.0.0.1, checks its sha256 and writes it; the conductor runs write_image 80 and
 * prepare_instance_boot 60 (partition UUIDs; a BIOS instance needs no bootloader install)
 * and the disk then holds the image byte for byte. In UEFI mode the bootloader install the
 * conductor asks for fails on this unbootable image (no ESP), with Ironic's message. With a software
 * RAID target_raid_config the conductor asks for it in BIOS mode too, with instance_info
 * image_rootfs_uuid as the root UUID (as Ironic's configure_local_boot): an agent without
 * enable_bios_bootloader_install refuses it, and the deploy fails saying so.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { HttpProxy } from '../helpers/http-proxy.js';
import { AgentCommandRecorder } from './agent-command-recorder.js';
import { ScratchDevices } from '../helpers/loop-devices.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitForState } from './helpers.js';

/** `partitionType` 0xef makes the one partition an EFI system partition. */
function makeImage(dir: string, partitionType = 0x83): { file: string; bytes: Buffer; sha256: string } {
  const bytes = randomBytes(4 * 1024 * 1024);
  // An MBR with one partition so the writer sees a partitioned whole-disk image.
  bytes.fill(0, 0, 512);
  // A disk signature: Ironic's root UUID is then 0x5ea1ab1e, not 0x00000000, so a UEFI
  // install looks for the (missing) ESP whatever mode the agent booted in (as IPA, an agent
  // booted in BIOS mode leaves a 0x00000000 whole-disk image alone).
  bytes.writeUInt32LE(0x5ea1ab1e, 440);
  bytes.writeUInt32LE(2048, 446 + 8);
  bytes.writeUInt32LE(bytes.length / 512 - 2048, 446 + 12);
  bytes[446 + 4] = partitionType;
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  const file = join(dir, 'image.raw');
  writeFileSync(file, bytes);
  return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Serves `bytes` on 127.0.0.1 until the test ends; returns the image's URL. */
async function serve(lab: ConductorLab, bytes: Buffer): Promise<string> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' });
    response.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lab.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/image.raw`;
}

function readStart(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, 0);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

async function deployTo(
  lab: ConductorLab,
  bootMode: 'bios' | 'uefi',
  driverInfo: Record<string, unknown> = {},
  served: 'raw' | 'qcow2' = 'raw',
  node: {
    instanceInfo?: Record<string, unknown>;
    targetRaidConfig?: Record<string, unknown>;
    properties?: Record<string, unknown>;
    partitionType?: number;
    recorder?: AgentCommandRecorder;
  } = {},
) {
  const scratch = new ScratchDevices();
  lab.defer(() => scratch.cleanup());
  const disk = scratch.create({ sizeMiB: 32, randomMiB: 1 });
  const image = makeImage(scratch.dir, node.partitionType);
  let bytes = image.bytes;
  if (served === 'qcow2') {
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', image.file, `${image.file}.qcow2`]);
    bytes = readFileSync(`${image.file}.qcow2`);
  }
  const url = await serve(lab, bytes);
  const { conductor } = await lab.start({ conf: { deploy: { defaultBootMode: bootMode } } });
  const enrolled = await enrollHostNode(conductor, {
    automatedClean: false,
    interfaces: { deploy: 'direct' },
    properties: { root_device: { name: disk.path }, ...node.properties },
    driverInfo,
    instanceInfo: {
      image_source: url,
      image_os_hash_algo: 'sha256',
      image_os_hash_value: createHash('sha256').update(bytes).digest('hex'),
      ...node.instanceInfo,
    },
  });
  if (node.targetRaidConfig) {
    const stored = conductor.store.getNode(enrolled.uuid);
    stored.targetRaidConfig = node.targetRaidConfig as typeof stored.targetRaidConfig;
    conductor.store.saveNode(stored);
  }
  await conductor.provision(enrolled.uuid, 'manage');
  await conductor.provision(enrolled.uuid, 'provide');
  await waitForState(conductor, enrolled.uuid, states.AVAILABLE);
  await conductor.provision(enrolled.uuid, 'active');
  await waitForState(conductor, enrolled.uuid, states.DEPLOYWAIT);
  const agent = await lab.agent({
    loadShippedManagers: true,
    hardwareManagerPaths: [],
    allowDevices: [disk.path],
    ...(node.recorder ? { advertisePort: node.recorder.port } : {}),
  });
  node.recorder?.forwardTo(agent.url);
  const done = await waitForState(conductor, enrolled.uuid, [states.ACTIVE, states.DEPLOYFAIL], 60_000);
  return { done, disk, image };
}

describe('direct deploy', () => {
  it('writes the image byte for byte and ends ACTIVE', async ({ lab }) => {
    const { done, disk, image } = await deployTo(lab, 'bios');
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(readStart(disk.path, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('deploys a qcow2 image_source without image_disk_format: the agent inspects it and converts it', async ({ lab }) => {
    const { done, disk, image } = await deployTo(lab, 'bios', {}, 'qcow2');
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(readStart(disk.path, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('downloads through the proxy driver_info image_http_proxy names, as Ironic passes it', async ({ lab }) => {
    const proxy = await HttpProxy.start();
    lab.defer(() => proxy.close());
    const { done, disk, image } = await deployTo(lab, 'bios', { image_http_proxy: proxy.url, image_no_proxy: 'example.invalid' });
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(proxy.seen).toContain(`GET ${done.instanceInfo.image_source}`);
    expect(readStart(disk.path, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('fails the deploy when the UEFI bootloader cannot be installed, with Ironic’s message', async ({ lab }) => {
    const { done } = await deployTo(lab, 'uefi');
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    expect(done.lastError).toMatch(
      new RegExp(
        `^Deploy step deploy.prepare_instance_boot failed: Failed to install a bootloader when deploying node ${done.uuid}: No EFI partition could be detected`,
      ),
    );
    // set_failed_state powers the node off after a deploy failure.
    expect(done.powerState).toBe(states.POWER_OFF);
  });

  it('asks for the bootloader in BIOS mode for a software RAID target, with image_rootfs_uuid as the root UUID', async ({
    lab,
  }) => {
    // The image's MBR disk signature is 0: only image_rootfs_uuid makes the agent go for grub.
    const { done } = await deployTo(lab, 'bios', {}, 'raw', {
      instanceInfo: { image_rootfs_uuid: '7c7b8a2e-94d1-4c43-9b8e-0d5a1f6e2b10' },
      targetRaidConfig: { logical_disks: [{ size_gb: 'MAX', raid_level: '1', controller: 'software' }] },
    });
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    expect(done.lastError).toBe(
      `Deploy step deploy.prepare_instance_boot failed: Failed to install a bootloader when deploying node ${done.uuid}: ` +
        'Install of legacy BIOS bootloaders disabled by CONF.enable_bios_bootloader_install as part of CVE-2026-43003 mitigation.',
    );
  });

  it("sends no ESP UUID for a whole-disk image in UEFI mode nor a PReP UUID off ppc64, as Ironic's prepare_instance_boot", async ({
    lab,
  }) => {
    const recorder = await AgentCommandRecorder.start();
    lab.defer(() => recorder.close());
    // The image's one partition is an ESP (type 0xef): the agent reports its UUID, and a stock
    // IPA given it would take that partition rather than find the ESP itself.
    const { done } = await deployTo(lab, 'uefi', {}, 'raw', {
      partitionType: 0xef,
      properties: { cpu_arch: 'x86_64' },
      recorder,
    });
    expect(recorder.last('standby.get_partition_uuids'), 'the conductor asked for the partition UUIDs').toBeDefined();
    expect(recorder.last('image.install_bootloader')).toMatchObject({
      root_uuid: '0x5ea1ab1e',
      target_boot_mode: 'uefi',
      efi_system_part_uuid: null,
      prep_boot_part_uuid: null,
    });
    // The partition holds no FAT filesystem: the install fails (the wire is what this test is about).
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    expect(done.driverInternalInfo.root_uuid_or_disk_id).toBe('0x5ea1ab1e');
  });
});
