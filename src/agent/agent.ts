/**
 * Wires one agent process together: configuration → logger → hardware managers → command
 * runner → HTTP API. Lookup and heartbeats (not standalone) plug in on top of what this
 * returns.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { DeviceGuard } from '../hardware/device-guard.js';
import { run } from '../hardware/exec.js';
import { publishHostModules } from '../hardware/host-modules.js';
import { loadHardwareManagers, type LoadProblem } from '../hardware/loader.js';
import type { Logger } from '../hardware/logger.js';
import { ManagerRegistry } from '../hardware/registry.js';
import { AGENT_VERSION } from '../version.js';
import { CommandRunner } from './command-runner.js';
import type { AgentConfig } from './config/schema.js';
import { ConfigError } from './config/load.js';
import { builtinExtensions } from './extensions/index.js';
import { registerAgentRoutes } from './http/routes.js';
import { createHttpServer } from './http/server.js';
import { TokenGate } from './http/token-gate.js';
import { NodeCache, type AgentServices } from './services.js';

export interface AgentOptions {
  config: AgentConfig;
  /** Override the pino logger options (tests: `{ level: 'silent' }`). */
  logger?: FastifyServerOptions['logger'];
}

export interface RunningAgent {
  /** Base URL the API listens on, e.g. `http://127.0.0.1:9999`. */
  url: string;
  port: number;
  app: FastifyInstance;
  runner: CommandRunner;
  services: AgentServices;
  tokenGate: TokenGate;
  loadProblems: LoadProblem[];
  close(): Promise<void>;
}

/** `hardware-managers/` next to the bundle (dist/) or at the repository root (source). */
export function locateShippedManagers(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'hardware-managers'), join(here, '..', '..', 'hardware-managers')];
  return candidates.find((dir) => existsSync(dir));
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config } = options;
  if (!config.standalone && config.apiUrls.length === 0) {
    throw new ConfigError('a conductor URL is required (--api-url or ipa-api-url=...) unless --standalone is given');
  }

  const app = createHttpServer({ logLevel: config.logLevel, ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  const log = app.log as unknown as Logger;
  const startedAt = Date.now() / 1000;

  const guard = new DeviceGuard({ allowList: config.allowDevices });
  const managerDirs = [
    ...(config.loadShippedManagers ? [locateShippedManagers()].filter((d): d is string => d !== undefined) : []),
    ...config.hardwareManagerPaths,
  ];
  publishHostModules();
  const { plugins, problems } = await loadHardwareManagers(managerDirs, log);
  const exec = (file: string, args?: readonly string[], opts?: Parameters<typeof run>[2]) => run(file, args, { logger: log, ...opts });
  const hardware = await ManagerRegistry.activate(plugins, { log, exec, guard });

  const services: AgentServices = { config, log, hardware, guard, exec, node: new NodeCache() };
  const runner = new CommandRunner(builtinExtensions, services);

  const tokenGate = new TokenGate({ token: config.agentToken, required: !(config.standalone && !config.agentToken) });
  if (!tokenGate.required) {
    log.warn('STANDALONE WITHOUT A TOKEN: anyone who can reach this port can run commands, including erasing disks');
  }

  registerAgentRoutes(app, { runner, tokenGate, version: AGENT_VERSION, startedAt: () => startedAt });
  await app.listen({ host: config.listenHost, port: config.listenPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listenPort;
  const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost;
  log.info({ port, managers: hardware.managers.map((m) => `${m.manager.name}@${m.manager.version}`) }, 'agent API listening');

  return {
    url: `http://${host}:${port}`,
    port,
    app,
    runner,
    services,
    tokenGate,
    loadProblems: problems,
    async close() {
      runner.abortAll();
      await app.close();
    },
  };
}
