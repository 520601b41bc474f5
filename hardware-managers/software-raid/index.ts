/**
 * Software RAID with mdadm, IPA's RAID steps (reference ipa-agent §9): `create_configuration`
 * (clean, from `node.target_raid_config`), `apply_configuration` (deploy, from its
 * `raid_config` argument, deleting the existing configuration first by default) and
 * `delete_configuration` (clean and deploy), all interface `raid`, priority 0 (manual or
 * requested only). The result of create/apply is the config, which Ironic stores as the
 * node's `raid_config`.
 *
 * Other managers find the root array through the `software_raid_root_device` method (the
 * image writer installs onto it), mirror the ESP over the holders through
 * `prepare_software_raid_esp` (UEFI) and ready the holders for grub through
 * `prepare_software_raid_bios_boot` (BIOS).
 *
 * Written only against the public contract, like any vendor plugin.
 */
import { z } from 'zod';
import { defineHardwareManager, defineStep, HardwareSupport, type StepContext } from '../../src/hardware/index.js';
import { createConfiguration, validateRaidConfig } from './create.js';
import { deleteConfiguration } from './delete.js';
import { prepareSoftwareRaidBiosBoot } from './bios-boot.js';
import { prepareSoftwareRaidEsp } from './esp-mirror.js';
import { forgetCreatedArrays, softwareRaidRootDevice } from './root-volume.js';

const createStep = defineStep({
  name: 'create_configuration',
  description: "Create the software RAID arrays of the node's target_raid_config with mdadm.",
  clean: { priority: 0, interface: 'raid', abortable: true },
  service: { priority: 0, interface: 'raid', abortable: true },
  run: (ctx) => createConfiguration(ctx, ctx.node.target_raid_config, 'create_configuration'),
});

const applyStep = defineStep({
  name: 'apply_configuration',
  description: 'Create the software RAID arrays of raid_config with mdadm, after deleting the existing ones.',
  deploy: { priority: 0, interface: 'raid' },
  service: { priority: 0, interface: 'raid', abortable: false },
  args: z.object({
    raid_config: z.record(z.string(), z.unknown()).describe('The RAID configuration to apply.'),
    delete_existing: z
      .boolean()
      .default(true)
      .describe(
        "Setting this to 'True' indicates to delete existing RAID configuration prior to creating the new configuration. Default value is 'True'.",
      ),
  }),
  async run(ctx, { raid_config, delete_existing }) {
    await validateRaidConfig(ctx, raid_config);
    if (delete_existing) await deleteConfiguration(ctx, 'apply_configuration');
    return createConfiguration(ctx, raid_config, 'apply_configuration');
  },
});

const deleteStep = defineStep({
  name: 'delete_configuration',
  description: 'Stop and remove every software RAID array, zero member superblocks, wipe the holders’ partition tables.',
  clean: { priority: 0, interface: 'raid', abortable: true },
  deploy: { priority: 0, interface: 'raid' },
  service: { priority: 0, interface: 'raid', abortable: true },
  run: (ctx) => deleteConfiguration(ctx, 'delete_configuration'),
});

export default defineHardwareManager({
  name: 'software_raid_hardware_manager',
  version: '1.0',
  className: 'SoftwareRaidHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  initialize() {
    forgetCreatedArrays();
  },
  steps: [createStep, applyStep, deleteStep],
  methods: {
    software_raid_root_device: (ctx: StepContext) => softwareRaidRootDevice(ctx),
    prepare_software_raid_esp: (ctx: StepContext, device: string, espPartition: string | null) =>
      prepareSoftwareRaidEsp(ctx, device, espPartition),
    prepare_software_raid_bios_boot: (ctx: StepContext, device: string) => prepareSoftwareRaidBiosBoot(ctx, device),
  },
});
