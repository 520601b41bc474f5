/**
 * End to end with our conductor: a QEMU machine that boots the ramdisk over PXE is enrolled
 * with the `qemu` power interface (`ramdisk-agent conductor enroll --power-interface qemu`),
 * cleaned automatically (metadata + full erase of its virtio, NVMe and SATA disks, progress
 * shown), then a raw and a qcow2 whole-disk image are deployed onto the NVMe disk (the second
 * as a rebuild); the host checks the disk files after each phase. Fast track keeps the agent
 * booted from cleaning into the first deploy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConductorApiClient } from '../../src/conductor/cli/api-client.js';
import type { ServingConductor } from '../../src/conductor/cli/serve.js';
import { freePort } from '../interop/harness/free-port.js';
import { checkDeployed, checkZero } from './harness/disk-check.js';
import { followNode } from './harness/follow.js';
import { conductorCli, startScenarioConductor } from './harness/our-conductor.js';
import { type DeployImage, E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';

const PHASE_TIMEOUT_MS = 300_000;
const skip = e2eSkipReason();
let world: E2eWorld | undefined;
let service: ServingConductor | undefined;

const cli = (...argv: string[]) => conductorCli(service!.url, ...argv);

describe.skipIf(skip)(`e2e: our conductor drives a PXE-booted QEMU machine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    const apiPort = await freePort();
    world = await E2eWorld.create('our conductor', apiPort);
    service = await startScenarioConductor(world, apiPort);
  }, 120_000);

  afterAll(async () => {
    await world?.teardown(async () => service?.close());
  }, 60_000);

  it('enrolls, cleans all three disks, deploys raw then qcow2 onto NVMe', { timeout: 1_200_000 }, async () => {
    const w = world!;
    const t = w.timeline;
    const conductor = service!.conductor;
    const uuid = (
      await cli(
        'enroll',
        '--name', 'e2e-vm',
        '--power-interface', 'qemu',
        '--mac', E2E_MAC,
        '--property', `root_device=${JSON.stringify({ serial: 'E2E-NVME' })}`,
        ...Object.entries(w.vm.driverInfo()).flatMap(([k, v]) => ['--driver-info', `${k}=${JSON.stringify(v)}`]),
        '--driver-info', `image_http_proxy=${JSON.stringify(w.guestProxyUrl)}`,
      )
    ).trim(); // prettier-ignore
    expect(conductor.store.getNode(uuid)).toMatchObject({ provisionState: 'manageable' });

    const say = (line: string) => t.say(line);
    const failure = () => w.failureContext();
    const cleaned = await t.phase('automated cleaning (erase_devices_metadata + erase_devices, 3 disks)', async () => {
      await cli('clean', uuid);
      return followNode(conductor, uuid, { kind: 'clean', timeoutMs: PHASE_TIMEOUT_MS, say, failure });
    });
    expect(cleaned.lastError, failure()).toBeNull();
    expect(cleaned.provisionState).toBe('available');
    for (const [name, file, format] of [
      ['virtio', w.vm.disks.virtio, 'qcow2'],
      ['NVMe', w.vm.disks.nvme, 'qcow2'],
      ['SATA', w.vm.disks.sata, 'raw'],
    ] as const) {
      const { zero, output } = checkZero(file, format);
      expect(zero, `${name} disk after cleaning: ${output}`).toBe(true);
    }
    t.say('host check: all three disk files read zero after cleaning');

    const client = new ConductorApiClient(service!.url);
    const deploy = async (label: string, image: DeployImage, rebuild: boolean) => {
      const done = await t.phase(`deploy ${label}`, async () => {
        await client.patchNode(uuid, [
          { op: 'add', path: '/instance_info/image_source', value: image.url },
          { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
          { op: 'add', path: '/instance_info/image_os_hash_value', value: image.sha256 },
        ]);
        await client.setProvisionState(uuid, rebuild ? 'rebuild' : 'active');
        return followNode(conductor, uuid, { kind: 'deploy', timeoutMs: PHASE_TIMEOUT_MS, say, failure });
      });
      expect(done.lastError, failure()).toBeNull();
      expect(done.provisionState).toBe('active');
      const check = checkDeployed(w.vm.disks.nvme, 'qcow2', image.raw);
      expect(check.prefixSha256).toBe(image.raw.sha256);
      expect(check.identical, check.compareOutput).toBe(true);
      t.say(
        `host check: the NVMe disk holds the image (qemu-img compare: ${check.compareOutput}; sha256 ${image.raw.sha256.slice(0, 12)}…)`,
      );
    };

    await deploy('raw image', w.image('first', 'raw'), false);
    // A second image, shipped as qcow2 (the agent converts it), over the first: a rebuild.
    await deploy('qcow2 image (rebuild)', w.image('second', 'qcow2'), true);
  });
});
