/**
 * IPA's `standby` extension, assembled from its parts: the power commands
 * (`standby-power.ts`) and the image commands (prepare_image, get_partition_uuids), which
 * the image writer adds to this list.
 */
import { defineExtension } from '../command.js';
import { standbyImageCommands } from './standby-image.js';
import { standbyPowerCommands } from './standby-power.js';

export const standbyExtension = defineExtension('standby', [...standbyImageCommands, ...standbyPowerCommands]);
