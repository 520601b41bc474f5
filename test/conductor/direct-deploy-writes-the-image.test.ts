/**
 * The `direct` deploy interface end to end with the shipped image writer: a real agent
 * (allow-list = scratch devices this test made) downloads a whole-disk image over HTTP from
 * 127.0.0.1, checks its sha256 and writes it; the conductor runs write_image 80 and
 * prepare_instance_boot 60 (partition UUIDs; a BIOS instance needs no bootloader install)
 * and the disk then holds the image byte for byte. In UEFI mode the bootloader install the
 * conductor asks for fails on this unbootable image, with Ironic's message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { states } from '../../src/conductor/states.js';
import { ScratchDevices } from '../helpers/loop-devices.js';
import { enrollHostNode, type RunningConductor, startConductor, startLinkedAgent, waitForState } from './helpers.js';

let running: RunningConductor | undefined;
let scratch: ScratchDevices | undefined;
let server: Server | undefined;
const agents: RunningAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await running?.close();
  running = undefined;
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  scratch?.cleanup();
  scratch = undefined;
});

function makeImage(dir: string): { file: string; bytes: Buffer; sha256: string } {
  const bytes = randomBytes(4 * 1024 * 1024);
  // An MBR with one partition so the writer sees a partitioned whole-disk image.
  bytes.fill(0, 0, 512);
  bytes.writeUInt32LE(2048, 446 + 8);
  bytes.writeUInt32LE(bytes.length / 512 - 2048, 446 + 12);
  bytes[446 + 4] = 0x83;
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  const file = join(dir, 'image.raw');
  writeFileSync(file, bytes);
  return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function serve(bytes: Buffer): Promise<string> {
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' });
    response.end(bytes);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
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

async function deployTo(bootMode: 'bios' | 'uefi') {
  scratch = new ScratchDevices();
  const disk = scratch.create({ sizeMiB: 32, randomMiB: 1 });
  const image = makeImage(scratch.dir);
  const url = await serve(image.bytes);
  running = await startConductor({ conf: { deploy: { defaultBootMode: bootMode } } });
  const { conductor } = running;
  const node = await enrollHostNode(conductor, {
    automatedClean: false,
    interfaces: { deploy: 'direct' },
    properties: { root_device: { name: disk.path } },
    instanceInfo: { image_source: url, image_os_hash_algo: 'sha256', image_os_hash_value: image.sha256 },
  });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  await waitForState(conductor, node.uuid, states.AVAILABLE);
  await conductor.provision(node.uuid, 'active');
  await waitForState(conductor, node.uuid, states.DEPLOYWAIT);
  agents.push(
    await startLinkedAgent(running.url, { loadShippedManagers: true, hardwareManagerPaths: [], allowDevices: [disk.path] }),
  );
  const done = await waitForState(conductor, node.uuid, [states.ACTIVE, states.DEPLOYFAIL], 60_000);
  return { done, disk, image };
}

describe('direct deploy', () => {
  it('writes the image byte for byte and ends ACTIVE', async () => {
    const { done, disk, image } = await deployTo('bios');
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(readStart(disk.path, image.bytes.length).equals(image.bytes)).toBe(true);
  });

  it('fails the deploy when the UEFI bootloader cannot be installed, with Ironic’s message', async () => {
    const { done } = await deployTo('uefi');
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    expect(done.lastError).toMatch(
      new RegExp(
        `^Deploy step deploy.prepare_instance_boot failed: Failed to install a bootloader when deploying node ${done.uuid}: .*EFI`,
      ),
    );
    // set_failed_state powers the node off after a deploy failure.
    expect(done.powerState).toBe(states.POWER_OFF);
  });
});
