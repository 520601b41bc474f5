/**
 * End to end with a stock Ironic 21.4 (test/interop's conductor): the same PXE-booted QEMU
 * machine, enrolled as a fake-hardware node whose power actions a hook applies to the VM
 * (harness/ironic-power-hook.ts): manage → provide (automated cleaning: IPA's
 * erase_devices_metadata + erase_devices) → deploy a raw whole-disk image onto the NVMe disk
 * → active; the host checks the disk files. Fast track keeps the agent booted from cleaning
 * into the deploy.
 */
import { describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { checkDeployed, checkZero } from './harness/disk-check.js';
import { StockIronicScenario } from './harness/stock-ironic-scenario.js';
import { e2eSkipReason } from './harness/world.js';

const IRONIC_OVERRIDES = `[deploy]
fast_track = True
default_boot_mode = bios
[conductor]
clean_callback_timeout = 600
deploy_callback_timeout = 600`;

const skip = e2eSkipReason() ?? interopSkipReason();

describe.skipIf(skip)(`e2e: stock Ironic 21.4 drives a PXE-booted QEMU machine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const scenario = new StockIronicScenario('stock Ironic', IRONIC_OVERRIDES);

  it('manage → provide (automated cleaning) → deploy → active, disks checked from the host', { timeout: 1_200_000 }, async () => {
    const { ironic, world: w } = scenario;
    const t = w.timeline;
    const { node, hook, wait } = await scenario.enrol({
      name: 'e2e-vm',
      raid_interface: 'agent',
      properties: { root_device: { serial: 'E2E-NVME' } },
      driver_info: { deploy_forces_oob_reboot: true, image_http_proxy: w.guestProxyUrl },
    });

    await t.phase('manage', async () => {
      await ironic.setProvisionState(node.uuid, 'manage');
      await wait(['manageable'], ['enroll']);
    });
    await t.phase('provide (automated cleaning: erase_devices_metadata + erase_devices, 3 disks)', async () => {
      await ironic.setProvisionState(node.uuid, 'provide');
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
      await ironic.patchNode(node.uuid, {
        instance_info: { image_source: image.url, image_os_hash_algo: 'sha256', image_os_hash_value: image.sha256 },
      });
      await ironic.setProvisionState(node.uuid, 'active');
      await wait(['active'], ['deploy failed']);
    });
    const check = checkDeployed(w.vm.disks.nvme, 'qcow2', image.raw);
    expect(check.prefixSha256).toBe(image.raw.sha256);
    expect(check.identical, check.compareOutput).toBe(true);
    t.say(`host check: the NVMe disk holds the image (qemu-img compare: ${check.compareOutput})`);
    t.say(`power actions applied to the VM: ${hook.actions.join(', ')}`);
  });
});
