/**
 * At most one writer per disk, across an abort. A real conductor cleans a node with the
 * shipped erase (shred, then a dd zero pass) on a scratch loop device whose writes the kernel
 * throttles, so the erase is still writing when the operator aborts. The conductor wipes
 * the token, the agent looks up again and forgets its commands; the node is then deployed.
 * The disk must hold the image afterwards: the aborted erase's processes must be gone before
 * the image is written, not keep overwriting it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { canThrottleWrites, throttleWrites } from '../helpers/throttled-device.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitFor, waitForState } from './helpers.js';

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

/** Random bytes behind an MBR with one partition: a whole-disk image the writer accepts. */
function partitionedImage(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.fill(0, 0, 512);
  bytes.writeUInt32LE(2048, 446 + 8);
  bytes.writeUInt32LE(size / 512 - 2048, 446 + 12);
  bytes[446 + 4] = 0x83;
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  return bytes;
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

/** The erase tools (shred, dd) running on `device`, as "pid command line". */
function eraseToolsOn(device: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!['shred', 'dd'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      if (argv.some((arg) => arg === device || arg === `of=${device}`)) found.push(`${pid} ${argv.join(' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(!canUseLoopDevices() || !canThrottleWrites())('abort during an erase, then deploy', () => {
  it('stops the erase before the image is written: the disk holds the image', async ({ lab }) => {
    const scratch = new ScratchDevices();
    lab.defer(() => scratch.cleanup());
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 1 });
    // 32 MiB at 16 MiB/s: the random pass and the zero pass take about two seconds each.
    const throttle = throttleWrites(disk, 16 * 1024 * 1024);
    lab.defer(() => throttle.release());
    const image = partitionedImage(2 * 1024 * 1024);
    const url = await serve(lab, image);

    const { conductor } = await lab.start();
    const node = await enrollHostNode(conductor, {
      automatedClean: false,
      interfaces: { deploy: 'direct' },
      properties: { root_device: { name: disk.path } },
      instanceInfo: {
        image_source: url,
        image_os_hash_algo: 'sha256',
        image_os_hash_value: createHash('sha256').update(image).digest('hex'),
      },
    });
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'deploy', step: 'erase_devices' }] });
    await lab.agent({ loadShippedManagers: true, hardwareManagerPaths: [], allowDevices: [disk.path] });
    await waitFor('the erase to write', () => eraseToolsOn(disk.path).length > 0);
    await sleep(300);

    await conductor.provision(node.uuid, 'abort');
    await waitForState(conductor, node.uuid, states.CLEANFAIL);
    const abortedAt = Date.now();
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.AVAILABLE);
    await conductor.provision(node.uuid, 'active');
    const done = await waitForState(conductor, node.uuid, [states.ACTIVE, states.DEPLOYFAIL], 60_000);
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);

    // Long enough for an erase left running to have finished both of its passes.
    await sleep(Math.max(0, abortedAt + 6_000 - Date.now()));
    expect(eraseToolsOn(disk.path)).toEqual([]);
    expect(readStart(disk.path, image.length).equals(image)).toBe(true);
  });
});
