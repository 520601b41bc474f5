/** Every command group the agent serves; one file per group, as IPA's `extensions/`. */
import type { Extension } from '../command.js';
import { cleanExtension } from './clean.js';
import { deployExtension } from './deploy.js';
import { flowExtension } from './flow.js';
import { imageExtension } from './image.js';
import { logExtension } from './log.js';
import { pollExtension } from './poll.js';
import { rescueExtension } from './rescue.js';
import { serviceExtension } from './service.js';
import { standbyExtension } from './standby.js';
import { systemExtension } from './system.js';

export const builtinExtensions: readonly Extension[] = [
  cleanExtension,
  deployExtension,
  serviceExtension,
  standbyExtension,
  logExtension,
  pollExtension,
  rescueExtension,
  systemExtension,
  flowExtension,
  imageExtension,
];
