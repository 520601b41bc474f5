/**
 * Software RAID in the booted ramdisk through a stock Ironic 21.4 (test/interop's conductor,
 * fake-hardware with `raid_interface: agent`, power applied to the VM by the hook as in
 * stock-ironic.e2e.ts): the machine with two more 2 GiB SATA disks, target_raid_config set
 * with `PUT /v1/nodes/{node}/states/raid` (what `baremetal node set --target-raid-config`
 * sends), manage → manual cleaning `raid.delete_configuration` + `raid.create_configuration`
 * → manageable, the node's raid_config filled by Ironic from the agent's result, and the host
 * reads both arrays' superblocks from the disk files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { IronicConductor } from '../interop/harness/ironic-conductor.js';
import { IronicPowerHook } from './harness/ironic-power-hook.js';
import { checkRaidMembers, RAID_DISKS, TARGET_RAID_CONFIG } from './harness/raid-scenario.js';
import { E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';

const PHASE_TIMEOUT_MS = 300_000;
const IRONIC_OVERRIDES = `[deploy]
fast_track = True
default_boot_mode = bios
[conductor]
clean_callback_timeout = 600`;

const skip = e2eSkipReason() ?? interopSkipReason();
let world: E2eWorld | undefined;
let ironic: IronicConductor | undefined;
let hook: IronicPowerHook | undefined;

describe.skipIf(skip)(`e2e: software RAID in the booted ramdisk, stock Ironic 21.4${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    ironic = await IronicConductor.start({ overrides: IRONIC_OVERRIDES });
    world = await E2eWorld.create('software RAID, stock Ironic', ironic.port, { extraDisks: RAID_DISKS });
  }, 180_000);

  afterAll(async () => {
    await hook?.stop();
    await world?.teardown(async () => ironic?.stop());
  }, 60_000);

  it(
    'manage → clean (raid.delete_configuration + raid.create_configuration) → manageable with raid_config, arrays on the disks',
    { timeout: 900_000 },
    async () => {
      const w = world!;
      const t = w.timeline;
      const say = (line: string) => t.say(line);
      const node = await ironic!.createNode({
        name: 'e2e-raid-vm',
        driver: 'fake-hardware',
        boot_interface: 'fake',
        deploy_interface: 'direct',
        power_interface: 'fake',
        management_interface: 'noop',
        network_interface: 'noop',
        raid_interface: 'agent',
        driver_info: { deploy_forces_oob_reboot: true, image_http_proxy: w.guestProxyUrl },
      });
      await ironic!.createPort(node.uuid, E2E_MAC);
      hook = new IronicPowerHook(ironic!, node.uuid, w.vm.driverInfo(), say);
      hook.start(node.driver_internal_info.last_power_state_change);
      const failure = () => `${w.failureContext()}\n--- Ironic log: ${ironic!.logFile}`;

      await t.phase('manage', async () => {
        await ironic!.setProvisionState(node.uuid, 'manage');
        await ironic!.waitForProvisionState(node.uuid, ['manageable'], { timeoutMs: PHASE_TIMEOUT_MS, failOn: ['enroll'] });
      });
      const set = await ironic!.request('PUT', `/v1/nodes/${node.uuid}/states/raid`, TARGET_RAID_CONFIG);
      expect(set.status, JSON.stringify(set.json)).toBe(204);

      const cleaned = await t.phase('manual cleaning: raid.delete_configuration + raid.create_configuration', async () => {
        await ironic!.setProvisionState(node.uuid, 'clean', {
          clean_steps: [
            { interface: 'raid', step: 'delete_configuration' },
            { interface: 'raid', step: 'create_configuration' },
          ],
        });
        return ironic!.waitForProvisionState(node.uuid, ['manageable'], {
          timeoutMs: PHASE_TIMEOUT_MS,
          failOn: ['clean failed'],
        });
      });
      hook.check();
      expect(cleaned.last_error, failure()).toBeNull();
      const raw = (await ironic!.request('GET', `/v1/nodes/${node.uuid}`)).json as Record<string, unknown>;
      expect(raw.raid_config).toMatchObject({ logical_disks: TARGET_RAID_CONFIG.logical_disks });
      say(`Ironic's raid_config: ${JSON.stringify(raw.raid_config)}`);
      say(`host check (mdadm --examine on the disk files): ${checkRaidMembers(Object.values(w.vm.extraDisks)).summary}`);
      say(`power actions applied to the VM: ${hook.actions.join(', ')}`);
    },
  );
});
