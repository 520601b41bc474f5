/**
 * End to end with a stock Ironic 21.4 (test/interop's conductor): the same PXE-booted QEMU
 * machine, enrolled as a fake-hardware node whose power actions a hook applies to the VM
 * (harness/ironic-power-hook.ts): manage → provide (automated cleaning: IPA's
 * erase_devices_metadata + erase_devices) → deploy a raw whole-disk image onto the NVMe disk
 * → active; the host checks the disk files. Fast track keeps the agent booted from cleaning
 * into the deploy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { IronicConductor } from '../interop/harness/ironic-conductor.js';
import { checkDeployed, checkZero } from './harness/disk-check.js';
import { IronicPowerHook } from './harness/ironic-power-hook.js';
import { E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';

const PHASE_TIMEOUT_MS = 300_000;
const IRONIC_OVERRIDES = `[deploy]
fast_track = True
default_boot_mode = bios
[conductor]
clean_callback_timeout = 600
deploy_callback_timeout = 600`;

const skip = e2eSkipReason() ?? interopSkipReason();
let world: E2eWorld | undefined;
let ironic: IronicConductor | undefined;
let hook: IronicPowerHook | undefined;

describe.skipIf(skip)(`e2e: stock Ironic 21.4 drives a PXE-booted QEMU machine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    ironic = await IronicConductor.start({ overrides: IRONIC_OVERRIDES });
    // The watch in front of Ironic's API is the guest's ipa-api-url.
    world = await E2eWorld.create('stock Ironic', ironic.port);
  }, 180_000);

  afterAll(async () => {
    await hook?.stop();
    await world?.teardown(async () => ironic?.stop());
  }, 60_000);

  it('manage → provide (automated cleaning) → deploy → active, disks checked from the host', { timeout: 1_200_000 }, async () => {
    const w = world!;
    const t = w.timeline;
    const say = (line: string) => t.say(line);
    const node = await ironic!.createNode({
      name: 'e2e-vm',
      driver: 'fake-hardware',
      boot_interface: 'fake',
      deploy_interface: 'direct',
      power_interface: 'fake',
      management_interface: 'noop',
      network_interface: 'noop',
      raid_interface: 'agent',
      properties: { root_device: { serial: 'E2E-NVME' } },
      driver_info: { deploy_forces_oob_reboot: true, image_http_proxy: w.guestProxyUrl },
    });
    await ironic!.createPort(node.uuid, E2E_MAC);
    hook = new IronicPowerHook(ironic!, node.uuid, w.vm.driverInfo(), say);
    hook.start(node.driver_internal_info.last_power_state_change);
    const failure = () => `${w.failureContext()}\n--- Ironic log: ${ironic!.logFile}`;
    const wait = async (states: string[], failOn: string[]) => {
      const done = await ironic!.waitForProvisionState(node.uuid, states, { timeoutMs: PHASE_TIMEOUT_MS, failOn });
      hook!.check();
      expect(done.last_error, failure()).toBeNull();
      return done;
    };

    await t.phase('manage', async () => {
      await ironic!.setProvisionState(node.uuid, 'manage');
      await wait(['manageable'], ['enroll']);
    });
    await t.phase('provide (automated cleaning: erase_devices_metadata + erase_devices, 3 disks)', async () => {
      await ironic!.setProvisionState(node.uuid, 'provide');
      await wait(['available'], ['clean failed']);
    });
    for (const [name, file, format] of [
      ['virtio', w.vm.disks.virtio, 'qcow2'],
      ['NVMe', w.vm.disks.nvme, 'qcow2'],
      ['SATA', w.vm.disks.sata, 'raw'],
    ] as const) {
      const { zero, output } = checkZero(file, format);
      expect(zero, `${name} disk after cleaning: ${output}`).toBe(true);
    }
    t.say('host check: all three disk files read zero after cleaning');

    const image = w.image('ironic', 'raw');
    await t.phase('deploy raw image', async () => {
      await ironic!.patchNode(node.uuid, {
        instance_info: { image_source: image.url, image_os_hash_algo: 'sha256', image_os_hash_value: image.sha256 },
      });
      await ironic!.setProvisionState(node.uuid, 'active');
      await wait(['active'], ['deploy failed']);
    });
    const check = checkDeployed(w.vm.disks.nvme, 'qcow2', image.raw);
    expect(check.prefixSha256).toBe(image.raw.sha256);
    expect(check.identical, check.compareOutput).toBe(true);
    t.say(`host check: the NVMe disk holds the image (qemu-img compare: ${check.compareOutput})`);
    t.say(`power actions applied to the VM: ${hook!.actions.join(', ')}`);
  });
});
