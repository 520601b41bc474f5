/**
 * Software RAID in UEFI mode in the booted ramdisk through a stock Ironic 21.4 (test/interop's
 * conductor, fake-hardware with `raid_interface: agent`, power applied to the VM by the hook
 * as in stock-ironic.e2e.ts): the machine boots OVMF (its own variable store) and has two more
 * 2 GiB SATA disks; target_raid_config set with `PUT /v1/nodes/{node}/states/raid` (what
 * `baremetal node set --target-raid-config` sends), manage → manual cleaning
 * `raid.delete_configuration` + `raid.create_configuration` → manageable, the node's
 * raid_config filled by Ironic from the agent's result, the host reads both arrays'
 * superblocks from the disk files (GPT, the root after the 550 MiB gap left for the ESP).
 * Then provide → deploy a GPT whole-disk image with an ESP onto the md root: Ironic's
 * configure_local_boot asks for install_bootloader (UEFI, software RAID), and the host finds
 * an ESP mirrored on every holder and a boot entry for each in the VM's NVRAM.
 */
import { describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { checkRaidMembers, RAID_DISKS, TARGET_RAID_CONFIG } from './harness/raid-scenario.js';
import { checkUefiRaidBoot } from './harness/raid-uefi-check.js';
import { missingOvmf } from './harness/vm.js';
import { PHASE_TIMEOUT_MS, StockIronicScenario } from './harness/stock-ironic-scenario.js';
import { e2eSkipReason } from './harness/world.js';

const IRONIC_OVERRIDES = `[deploy]
fast_track = True
default_boot_mode = uefi
[conductor]
automated_clean = False
clean_callback_timeout = 600
deploy_callback_timeout = 600`;

const skip = e2eSkipReason(missingOvmf()) ?? interopSkipReason();

describe.skipIf(skip)(`e2e: software RAID in the booted ramdisk, stock Ironic 21.4${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const scenario = new StockIronicScenario('software RAID, UEFI, stock Ironic', IRONIC_OVERRIDES, {
    extraDisks: RAID_DISKS,
    firmware: 'uefi',
    // Under OVMF the kernel cannot unpack the initramfs (~190 MiB) in 512 MiB: iPXE's copy
    // and the firmware's own reservations take more of it than under SeaBIOS.
    memoryMiB: 1024,
  });

  it(
    'UEFI: clean (raid.delete_configuration + raid.create_configuration) → raid_config, arrays on the disks → deploy onto md0: ESP on every holder, NVRAM entries',
    { timeout: 1_200_000 },
    async () => {
      const { ironic, world: w } = scenario;
      const t = w.timeline;
      const say = (line: string) => t.say(line);
      const { node, hook, failure } = await scenario.enrol({
        name: 'e2e-raid-vm',
        raid_interface: 'agent',
        properties: { capabilities: 'boot_mode:uefi' },
        driver_info: { deploy_forces_oob_reboot: true, image_http_proxy: w.guestProxyUrl },
      });

      await t.phase('manage', async () => {
        await ironic.setProvisionState(node.uuid, 'manage');
        await ironic.waitForProvisionState(node.uuid, ['manageable'], { timeoutMs: PHASE_TIMEOUT_MS, failOn: ['enroll'] });
      });
      const set = await ironic.request('PUT', `/v1/nodes/${node.uuid}/states/raid`, TARGET_RAID_CONFIG);
      expect(set.status, JSON.stringify(set.json)).toBe(204);

      const cleaned = await t.phase('manual cleaning: raid.delete_configuration + raid.create_configuration', async () => {
        await ironic.setProvisionState(node.uuid, 'clean', {
          clean_steps: [
            { interface: 'raid', step: 'delete_configuration' },
            { interface: 'raid', step: 'create_configuration' },
          ],
        });
        return ironic.waitForProvisionState(node.uuid, ['manageable'], {
          timeoutMs: PHASE_TIMEOUT_MS,
          failOn: ['clean failed'],
        });
      });
      hook.check();
      expect(cleaned.last_error, failure()).toBeNull();
      const raw = (await ironic.request('GET', `/v1/nodes/${node.uuid}`)).json as Record<string, unknown>;
      expect(raw.raid_config).toMatchObject({ logical_disks: TARGET_RAID_CONFIG.logical_disks });
      say(`Ironic's raid_config: ${JSON.stringify(raw.raid_config)}`);
      const arrays = checkRaidMembers(Object.values(w.vm.extraDisks));
      say(`host check (mdadm --examine on the disk files): ${arrays.summary}`);
      expect(arrays.root.every((m) => m.partition.startBytes === 551 * 2 ** 20)).toBe(true);

      const image = w.uefiImage('uefi-raid-root');
      const deployed = await t.phase('provide, deploy a GPT image with an ESP onto /dev/md0 (UEFI)', async () => {
        await ironic.setProvisionState(node.uuid, 'provide');
        await ironic.waitForProvisionState(node.uuid, ['available'], { timeoutMs: PHASE_TIMEOUT_MS, failOn: ['clean failed'] });
        await ironic.patchNode(node.uuid, {
          'properties/root_device': { name: '/dev/md0' },
          instance_info: { image_source: image.url, image_os_hash_algo: 'sha256', image_os_hash_value: image.sha256 },
        });
        await ironic.setProvisionState(node.uuid, 'active');
        return ironic.waitForProvisionState(node.uuid, ['active'], { timeoutMs: PHASE_TIMEOUT_MS, failOn: ['deploy failed'] });
      });
      expect(deployed.last_error, failure()).toBeNull();
      for (const line of checkUefiRaidBoot(arrays.root, image, w.vm.ovmfVars!)) say(`host check: ${line}`);
      say(`power actions applied to the VM: ${hook.actions.join(', ')}`);
    },
  );
});
