/** Every command group the agent serves; one file per group, as IPA's `extensions/`. */
import type { Extension } from '../command.js';
import { cleanExtension } from './clean.js';
import { deployExtension } from './deploy.js';
import { serviceExtension } from './service.js';

export const builtinExtensions: readonly Extension[] = [cleanExtension, deployExtension, serviceExtension];
