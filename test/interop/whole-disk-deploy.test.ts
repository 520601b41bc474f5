// Scenario 2 of the interop suite: a stock Ironic 21.4 conductor deploys a whole-disk raw
// image through our agent with the `direct` deploy interface. The image is served over
// local HTTP and identified by `image_os_hash_algo=sha256` (no md5); the node ends
// `active` and the root loop device equals the image byte for byte.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ImageServer } from '../helpers/image-server.js';
import { differenceFrom } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

const IMAGE_MIB = 16;

/** A GPT whole-disk image: one Linux partition full of random bytes. */
function buildImage(dir: string): Buffer {
  const path = join(dir, 'whole-disk.raw');
  const content = Buffer.alloc(IMAGE_MIB * 1024 * 1024);
  writeFileSync(path, content);
  execFileSync('sgdisk', ['--new=1:2048:0', '--typecode=1:8300', '--change-name=1:root', path], { stdio: 'ignore' });
  const image = readFileSync(path);
  // Random data inside the partition (1 MiB .. end minus the backup GPT).
  randomBytes(image.length - 2 * 1024 * 1024).copy(image, 1024 * 1024);
  writeFileSync(path, image);
  return image;
}

describeInterop('whole-disk deploy by a stock Ironic 21.4', (suite) => {
  let images: ImageServer;
  beforeAll(async () => {
    images = await ImageServer.start();
  }, 60_000);
  afterAll(async () => {
    await images?.close();
  }, 60_000);

  it('direct deploy of a raw image over HTTP with a sha256 hash ends active with the disk equal to the image', async () => {
    await timedScenario('2 whole-disk deploy (direct, raw, sha256)', async () => {
      const image = buildImage(suite.devices.dir);
      // The root disk is exactly the image's size: nothing of a GPT needs moving, so every
      // byte of the disk must be the image's.
      const root = suite.scratchDevice({ sizeMiB: IMAGE_MIB, randomMiB: 2 });
      const url = images.serveBuffer('whole-disk.raw', image);

      const node = await suite.manageableNode('interop-deploy', {
        // Cleaning is scenario 1's subject; here `provide` goes straight to available.
        automated_clean: false,
        properties: {
          // The operator's root device hint: the only disk the agent may write.
          root_device: { name: root.path },
          // BIOS, as this machine boots: a whole-disk image brings its own boot code and
          // 21.4 sends no install_bootloader. UEFI would need boot entries in this host's
          // NVRAM, which the agent rightly refuses to write outside a ramdisk.
          capabilities: 'boot_mode:bios',
        },
      });
      await suite.ironic.setProvisionState(node.uuid, 'provide');
      await suite.ironic.waitForProvisionState(node.uuid, 'available', { timeoutMs: 30_000 });
      await suite.ironic.patchNode(node.uuid, {
        instance_info: {
          image_source: url,
          image_os_hash_algo: 'sha256',
          image_os_hash_value: createHash('sha256').update(image).digest('hex'),
        },
      });
      const validation = await suite.ironic.validate(node.uuid);
      expect(validation.deploy?.result, JSON.stringify(validation.deploy)).toBe(true);

      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'active');
      await suite.ironic.waitForProvisionState(node.uuid, 'wait call-back', {
        failOn: ['deploy failed'],
        timeoutMs: 60_000,
        changes,
      });
      const agent = await suite.startAgent({ allowDevices: [root.path] });

      const done = await suite.ironic.waitForProvisionState(node.uuid, 'active', {
        failOn: ['deploy failed'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      expect(done.last_error).toBeNull();
      expect(done.maintenance).toBe(false);
      expect(done.power_state).toBe('power on');
      expect(agent.stepsRun().map((s) => `${s.phase}.${s.step}`)).toEqual(['deploy.write_image']);
      // What the conductor asked of the agent, from its own log.
      const commands = suite.ironic
        .logLines(new RegExp(`Executing agent command (\\S+) for node ${node.uuid}`))
        .map((line) => /Executing agent command (\S+)/.exec(line)![1]);
      expect(commands).toEqual(
        expect.arrayContaining([
          'deploy.get_deploy_steps',
          'deploy.execute_deploy_step',
          'standby.get_partition_uuids',
          'standby.sync',
        ]),
      );
      // The image came from our HTTP server: HEADs from the conductor, GET(s) from the agent.
      expect(images.requestsFor('whole-disk.raw').some((r) => r.method === 'GET' && r.status < 300)).toBe(true);
      expect(differenceFrom(root.path, image), `${root.path} against the image`).toBeUndefined();
    });
  }, 240_000);
});
