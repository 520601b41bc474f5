/**
 * The image commands of IPA's `standby` extension: `prepare_image` (async; `image_info`
 * is validated before the command starts, so a bad one is an HTTP 400 as in IPA) and
 * `get_partition_uuids`. The work is done by whichever hardware manager offers the
 * methods (the shipped image writer, or a vendor's that claims more support).
 */
import { z } from 'zod';
import { validateImageInfo } from '../../hardware/image/image-info.js';
import { defineCommand } from '../command.js';
import { createStepContext } from './step-phase.js';

const prepareImage = defineCommand({
  name: 'prepare_image',
  mode: 'async',
  params: z.looseObject({
    image_info: z
      .unknown()
      .optional()
      .describe(
        'The image as Ironic sends it (id, urls, checksum or os_hash_algo/os_hash_value, disk_format, ...). A whole-disk ' +
          'image is written onto the disk; image_type "partition" into the root partition of a new layout, with root_mb ' +
          '(required), swap_mb, ephemeral_mb, ephemeral_format and preserve_ephemeral, as IPA',
      ),
    configdrive: z.string().nullish().describe('Config drive: base64 of a gzipped ISO labelled config-2, or a URL to one'),
  }),
  validate(params, { services }) {
    validateImageInfo(params.image_info, { md5Enabled: services.config.md5Enabled });
  },
  async run(params, ctx) {
    const stepCtx = createStepContext(ctx, 'deploy', ctx.services.node.current ?? {}, []);
    const result = await ctx.services.hardware.dispatchToManagers(
      'prepare_image',
      stepCtx,
      params.image_info,
      params.configdrive ?? null,
    );
    // IPA returns the message string; the runner wraps it as {"result": "prepare_image: ..."}.
    return result.message;
  },
});

const getPartitionUuids = defineCommand({
  name: 'get_partition_uuids',
  mode: 'sync',
  params: z.looseObject({}),
  async run(_params, { services }) {
    return services.hardware.dispatchToManagers('get_partition_uuids', services.hardware.context);
  },
});

export const standbyImageCommands = [prepareImage, getPartitionUuids];
