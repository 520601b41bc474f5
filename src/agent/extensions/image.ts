/**
 * IPA's `image` extension: `install_bootloader`, which Ironic calls (polling) after
 * `write_image` for UEFI whole-disk deployments. Dispatched to the hardware managers.
 */
import { z } from 'zod';
import { defineCommand, defineExtension } from '../command.js';
import { createStepContext } from './step-phase.js';

const installBootloader = defineCommand({
  name: 'install_bootloader',
  mode: 'async',
  params: z.looseObject({
    root_uuid: z.string().nullish(),
    efi_system_part_uuid: z.string().nullish(),
    prep_boot_part_uuid: z.string().nullish(),
    target_boot_mode: z.enum(['uefi', 'bios']).nullish(),
    ignore_bootloader_failure: z.boolean().nullish(),
  }),
  async run(params, ctx) {
    const stepCtx = createStepContext(ctx, 'deploy', ctx.services.node.current ?? {}, []);
    return ctx.services.hardware.dispatchToManagers('install_bootloader', stepCtx, params);
  },
});

export const imageExtension = defineExtension('image', [installBootloader]);
