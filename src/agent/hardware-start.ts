/**
 * IPA's `hardware.get_managers()`: find the hardware-manager plugins, load them, keep those
 * that report support. Imported on demand by agent.ts, so the plugin loader, the contract and
 * all of zod that plugins share (host-modules.ts) are compiled only when the managers load,
 * not before the API first answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceGuard } from '../hardware/device-guard.js';
import { publishHostModules } from '../hardware/host-modules.js';
import { defaultNodeModulesDirs, findInstalledPlugins, loadHardwareManagers, type LoadProblem } from '../hardware/loader.js';
import type { Logger } from '../hardware/logger.js';
import { ManagerRegistry } from '../hardware/registry.js';
import type { Exec } from '../hardware/step-context.js';
import type { AgentConfig } from './config/schema.js';

export interface HardwareStartOptions {
  config: AgentConfig;
  log: Logger;
  exec: Exec;
  guard: DeviceGuard;
  /** `dist/hardware-managers` (or the repository's), found by the caller: it knows where the bundle is. */
  shippedManagersDir: string | undefined;
  /** The agent's package folder, where npm puts plugins installed beside it. */
  packageRoot: string | undefined;
}

export interface ActiveHardware {
  hardware: ManagerRegistry;
  problems: LoadProblem[];
}

export async function startHardwareManagers(options: HardwareStartOptions): Promise<ActiveHardware> {
  const { config, log, exec, guard } = options;
  const managerDirs = [
    ...(config.loadShippedManagers && options.shippedManagersDir ? [options.shippedManagersDir] : []),
    ...config.hardwareManagerPaths,
    ...(config.discoverInstalledPlugins ? await findInstalledPlugins(defaultNodeModulesDirs(options.packageRoot)) : []),
  ];
  publishHostModules();
  const startTimeoutMs = config.hardwareManagerStartTimeout * 1000;
  const { plugins, problems } = await loadHardwareManagers(managerDirs, log, { importTimeoutMs: startTimeoutMs });
  const hardware = await ManagerRegistry.activate(
    plugins,
    { log, exec, guard },
    {
      loadProblems: problems,
      startTimeoutMs,
      managerSettings: config.hardwareManagers,
    },
  );
  log.info({ managers: hardware.managers.map((m) => `${m.manager.name}@${m.manager.version}`) }, 'hardware managers active');
  // IPA's hardware_initialization_delay: an operator gives slow (RAID) drivers time to bring
  // their disks up before inspection, lookup or any command looks at the hardware.
  if (config.hardwareInitializationDelay > 0) {
    log.info(
      { seconds: config.hardwareInitializationDelay },
      `Waiting ${config.hardwareInitializationDelay} seconds before proceeding`,
    );
    await sleep(config.hardwareInitializationDelay * 1000);
  }
  return { hardware, problems };
}
