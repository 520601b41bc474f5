/**
 * LLDP data as IPA gets it (`dispatch_to_managers('collect_lldp_data', interface_names)`):
 * a manager's method when one has it, else the built-in tcpdump reader. Used by the `lldp`
 * collector and by the inventory with `ipa-collect-lldp`.
 */
import { isIpaError } from '../../hardware/errors.js';
import { listLldpInterfaces, receiveLldp } from '../../hardware/inspection/lldp.js';
import type { ManagerMethodArgs, ManagerMethodName, ManagerMethodResult } from '../../hardware/step-context.js';
import type { AgentServices } from '../services.js';

/** A manager's method when one has it, else the built-in reader (IPA's GenericHardwareManager). */
export async function fromManagers<K extends ManagerMethodName>(
  services: AgentServices,
  method: K,
  builtin: () => Promise<ManagerMethodResult<K>>,
  ...args: ManagerMethodArgs<K>
): Promise<ManagerMethodResult<K>> {
  try {
    return await services.hardware.dispatchToManagers(method, ...args);
  } catch (error) {
    if (isIpaError(error) && error.type === 'HardwareManagerMethodNotFound') return builtin();
    throw error;
  }
}

async function builtinLldp(
  services: AgentServices,
  interfaces?: readonly string[],
  signal?: AbortSignal,
): Promise<Record<string, Array<[number, string]>>> {
  try {
    return await receiveLldp({
      exec: services.exec,
      interfaces: interfaces ?? (await listLldpInterfaces()),
      timeoutSeconds: services.config.lldpTimeout,
      log: services.log,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    // IPA's collect_lldp_data: a failure to listen leaves no data, not an inspection error.
    services.log.error({ err: error }, 'Error while getting LLDP info');
    return {};
  }
}

/** IPA's `dispatch_to_managers('collect_lldp_data', interface_names)`, the built-in reader last. */
export function lldpData(services: AgentServices, interfaces?: readonly string[], signal?: AbortSignal) {
  return fromManagers(
    services,
    'collect_lldp_data',
    () => builtinLldp(services, interfaces, signal),
    services.hardware.context,
    interfaces,
  );
}
