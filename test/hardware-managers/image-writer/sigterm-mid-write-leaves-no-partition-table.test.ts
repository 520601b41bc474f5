/**
 * The agent is stopped (SIGTERM, as at shutdown) while it streams an image onto a disk whose
 * writes the kernel throttles. The image's partition table lands first; the rest never
 * arrives. The clean-up that drops a failed write's partition table must still run before
 * the agent exits: a disk holding a partition table and a third of the data looks bootable.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { describe, expect } from 'vitest';
import { states } from '../../../src/conductor/states.js';
import { conductorTest as it } from '../../conductor/conductor-lab.js';
import { enrollHostNode, waitForState } from '../../conductor/helpers.js';
import { AgentProcess } from '../../interop/harness/agent-process.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';
import { canThrottleWrites, throttleWrites } from '../../helpers/throttled-device.js';

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

/** The partition table type blkid finds ('' for none: blkid exits 2 when it finds nothing). */
function partitionTableType(device: string): string {
  try {
    return execFileSync('blkid', ['-p', '-s', 'PTTYPE', '-o', 'value', device], { encoding: 'utf8' }).trim();
  } catch (error) {
    if ((error as { status?: number }).status === 2) return '';
    throw error;
  }
}

describe.skipIf(!canUseLoopDevices() || !canThrottleWrites())('SIGTERM while an image is written', () => {
  it('leaves no partition table on the disk', async ({ lab }) => {
    const scratch = new ScratchDevices();
    lab.defer(() => scratch.cleanup());
    const disk = scratch.create({ sizeMiB: 32 });
    const image = partitionedImage(24 * 1024 * 1024);
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(image.length), 'content-type': 'application/octet-stream' });
      response.end(image);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    lab.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/image.raw`;

    const running = await lab.start();
    const { conductor } = running;
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
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.AVAILABLE);
    await conductor.provision(node.uuid, 'active');
    await waitForState(conductor, node.uuid, states.DEPLOYWAIT);
    // 24 MiB at 2 MiB/s: about twelve seconds of writing.
    const throttle = throttleWrites(disk, 2 * 1024 * 1024);
    lab.defer(() => throttle.release());
    const agent = await AgentProcess.start({ apiUrl: running.url, allowDevices: [disk.path] });
    lab.defer(() => agent.stop());
    await agent.waitFor((r) => r.msg === 'streaming raw image onto the device', 60_000, 'the image write to start');
    const deadline = Date.now() + 20_000;
    while (partitionTableType(disk.path) !== 'dos' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(partitionTableType(disk.path)).toBe('dos');

    process.kill(agent.child.pid!, 'SIGTERM');
    await agent.exited;
    expect(partitionTableType(disk.path)).toBe('');
  });
});
