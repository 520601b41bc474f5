/**
 * A manager's own settings: the section of the agent's config file under
 * `hardware_managers.<manager name>`, validated by the zod object the manager declares
 * (`settings`), defaults applied and unknown keys refused, as the config file's own keys
 * are. A manager sees its own section only, never another's or the agent's configuration.
 */
import { z } from 'zod';
import type { HardwareManager } from './manager.js';
import type { ManagerSettings } from './step-context.js';
import { formatZodError } from './zod-error.js';

/** Where the sections come from, as an operator writes it. */
export const MANAGER_SETTINGS_KEY = 'hardware_managers';

export function resolveManagerSettings(manager: HardwareManager, section: unknown): ManagerSettings {
  const where = `${MANAGER_SETTINGS_KEY}.${manager.name}`;
  if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) {
    throw new Error(`${where} must be an object of settings`);
  }
  const result = (manager.settings ?? z.object({})).strict().safeParse(section ?? {});
  if (!result.success) {
    const none = manager.settings ? '' : ' (this manager declares no settings)';
    throw new Error(`invalid ${where}${none}: ${formatZodError(result.error)}`);
  }
  return Object.freeze(result.data);
}
