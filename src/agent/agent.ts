/**
 * Wires one agent process together: configuration → logger → hardware managers → command
 * runner → (not standalone: lookup, advertised address, auto-TLS) → HTTP API → heartbeats.
 * The order is IPA's (reference §1): the API is served only after a successful lookup, so
 * the token is in place before the first command can arrive.
 *
 * A standalone agent has no conductor to see that order, and answers its API before the
 * hardware managers and the commands are loaded (start-up: see bench/startup): they load when
 * the first command arrives or shortly after the API is up, and a command waits for them.
 * Managers that fail to start stop it as before, only after it has answered.
 */
import type { IncomingMessage } from 'node:http';
import { DeviceGuard } from '../hardware/device-guard.js';
import { run } from '../hardware/exec.js';
import { killOrphanedTools } from '../hardware/process-tree.js';
import type { LoadProblem } from '../hardware/loader.js';
import type { ManagerRegistry } from '../hardware/registry.js';
import { AGENT_VERSION } from '../version.js';
import { CommandRunner } from './command-runner.js';
import type { Extension } from './command.js';
import type { AgentConfig } from './config/schema.js';
import { ConfigError } from './config/config-error.js';
import { registerAgentRoutes } from './http/routes.js';
// Type-only: the conductor link is imported only when not
// standalone, so a standalone agent starts without it.
import type { ConductorLink } from './heartbeat/conductor-link.js';
import { listenHost } from './http/listen-address.js';
import { createHttpServer, type AgentHttpServer } from './http/server.js';
import { planTls, type AutoTlsModule } from './tls/serve-plan.js';
import { TokenGate } from './http/token-gate.js';
import { createAgentLogger, type AgentLoggerOptions } from './agent-logger.js';
import { LogBuffer } from './log-buffer.js';
import { agentPackageRoot, locateShippedManagers } from './package-paths.js';
import { PowerActions, resolvePowerMode } from './power.js';
import { NodeCache } from './node-cache.js';
import { foundRescueMarker, ProcessHold } from './stay-up.js';
import { logUnhandledRejections } from './unhandled-rejections.js';
import type { AgentServices } from './services.js';

/**
 * A standalone agent loads its managers this long after its API is up, or when a command
 * arrives, whichever is first (nothing a GET answers needs them): soon enough that a broken
 * manager still stops it at start-up, late enough that compiling them, and the plugin search
 * (every package.json beside an npm-installed agent), do not share the CPU and memory of the
 * first answers.
 */
const IDLE_START_MS = 1000;

export interface AgentOptions {
  config: AgentConfig;
  /** Override the pino logger options (tests: `{ level: 'silent' }`, or a `stream` to read). */
  logger?: AgentLoggerOptions;
  /** Where the kernel's /proc is read to tell whether IPv6 is enabled (tests: a tree of their own). */
  procRoot?: string | undefined;
  /**
   * Ends a start still under way (the lookup, the search for the address to advertise, which
   * after a lookup goes on until it succeeds): `startAgent` then rejects with its reason.
   */
  signal?: AbortSignal | undefined;
  /** Log a rejection nobody handles instead of ending the process (the CLI's agent: unhandled-rejections.ts). */
  survivesUnhandledRejections?: boolean;
}

export interface RunningAgent {
  /** Base URL the API listens on, e.g. `http://127.0.0.1:9999`. */
  url: string;
  port: number;
  /** The API's HTTP server. */
  app: AgentHttpServer;
  runner: CommandRunner;
  services: AgentServices;
  tokenGate: TokenGate;
  /** Plugin problems found while loading the managers (empty until they are loaded). */
  readonly loadProblems: LoadProblem[];
  power: PowerActions;
  /** Lookup and heartbeats; undefined when standalone. */
  conductor: ConductorLink | undefined;
  /** The auto-TLS certificate (PEM) sent as `agent_verify_ca`, when the API is on HTTPS. */
  certificatePem: string | undefined;
  /** False once the agent stopped serving (powered off, rescued, locked down) or never could. */
  readonly serving: boolean;
  /**
   * Resolves with the reason when the agent stops serving. Unless it was a power action, the
   * agent then keeps the process up until close(), as IPA does.
   */
  stopped: Promise<string>;
  /**
   * Resolves once the hardware managers are active and commands can run (at once when
   * `startAgent` returns, except standalone); rejects if no manager could start. Never
   * settles on a rescued machine: that agent loads nothing.
   */
  ready: Promise<void>;
  close(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config } = options;
  if (!config.standalone && config.apiUrls.length === 0 && !config.inspectionCallbackUrl) {
    throw new ConfigError(
      'a conductor URL is required (--api-url or ipa-api-url=...) unless --standalone or ipa-inspection-callback-url is given',
    );
  }

  const logBuffer = new LogBuffer();
  // Assigned once the agent looks itself up; the logger reads its token from then on.
  let link: ConductorLink | undefined;
  const log = createAgentLogger(options.logger, config.logLevel, logBuffer, () => [config.agentToken, link?.agentToken]);
  // Before the managers load: their evaluateHardwareSupport() is the first plugin code to run.
  const releaseRejections = options.survivesUnhandledRejections ? logUnhandledRejections(log) : undefined;
  const startedAt = Date.now() / 1000;
  const guard = new DeviceGuard({ allowList: config.allowDevices });
  const exec = (file: string, args?: readonly string[], opts?: Parameters<typeof run>[2]) =>
    run(file, args, { logger: log, ...opts });
  const power = new PowerActions({
    mode: await resolvePowerMode(config.powerActions, guard, log),
    exec,
    log,
    simulatedRoot: config.simulatedHostRoot,
  });

  // The managers and the command definitions (zod schemas, image and erase code), loaded
  // together once `startCommands` is called.
  let hardware: ManagerRegistry | undefined;
  let loadProblems: LoadProblem[] = [];
  let commandsStarting = false;
  let idleStart: NodeJS.Timeout | undefined;
  let beginCommands!: () => void;
  const commandsStarted = new Promise<void>((resolve) => (beginCommands = resolve));
  const startCommands = () => {
    clearTimeout(idleStart);
    commandsStarting = true;
    beginCommands();
  };
  const commands: Promise<readonly Extension[]> = commandsStarted.then(async () => {
    // What a SIGKILLed predecessor (the OOM killer; init respawns the agent) left running, e.g.
    // fio jobs still writing a disk: see process-tree.ts. Here, before any manager or command
    // can run a tool, not before the first answer: it reads every process's environment
    // (54 ms for 233 processes on a loaded 2-core host, and a large server has thousands of
    // kernel threads).
    for (const orphan of killOrphanedTools()) log.warn({ process: orphan }, 'killed a tool a previous agent left running');
    const [{ startHardwareManagers }, { builtinExtensions }] = await Promise.all([
      import('./hardware-start.js'),
      import('./extensions/index.js'),
    ]);
    const active = await startHardwareManagers({
      config,
      log,
      exec,
      guard,
      shippedManagersDir: locateShippedManagers(),
      packageRoot: agentPackageRoot(),
    });
    hardware = active.hardware;
    loadProblems = active.problems;
    return builtinExtensions;
  });
  const ready = commands.then(() => undefined);
  ready.catch(() => undefined); // reported by whoever awaits it (startAgent, or the CLI)

  let stopServing: (reason: string) => Promise<void> = async () => undefined;
  const services: AgentServices = {
    config,
    log,
    // Commands reach it only once `commands` has resolved: the runner waits for that.
    get hardware(): ManagerRegistry {
      if (!hardware) throw new Error('the hardware managers have not started yet');
      return hardware;
    },
    guard,
    exec,
    node: new NodeCache(),
    power,
    logBuffer,
    conductor: undefined,
    stopServing: (reason) => stopServing(reason),
  };
  const runner = new CommandRunner(commands, services);

  // A rescued machine: IPA (10.2+) still loads its managers, inspects and looks the node up
  // before it checks the marker; here nothing runs: the machine and its network are the
  // tenant's now, and the conductor expects no agent on a rescued node.
  let serving = !foundRescueMarker(power, config.simulatedHostRoot, log);

  // IPA loads its managers (and waits hardware_initialization_delay) before inspection,
  // lookup or serving: a conductor sees that order, and so does an operator's delay.
  const answerFirst = config.standalone && config.hardwareInitializationDelay <= 0;
  if (!answerFirst && serving) {
    startCommands();
    await ready;
  }

  const tokenGate = new TokenGate({ token: config.agentToken, required: !(config.standalone && !config.agentToken) });
  if (!tokenGate.required && serving) {
    log.warn('STANDALONE WITHOUT A TOKEN: anyone who can reach this port can run commands, including erasing disks');
  }

  let advertiseHost: string | undefined;
  let callbackUrl: ((protocol: 'http' | 'https', host: string, port: number) => string) | undefined;
  let autoTls: Promise<AutoTlsModule> | undefined;
  // IPA inspects before the lookup: an unknown machine is known once the inspector has its data.
  let inspectedNodeUuid: string | undefined;
  if (
    !config.standalone &&
    serving &&
    (config.inspectionCallbackUrl || (config.inspectionCollectors && config.apiUrls.length > 0))
  ) {
    const { inspect } = await import('./inspection/inspect.js');
    try {
      inspectedNodeUuid = await inspect(services);
    } catch (error) {
      log.error({ err: error }, 'Failed to perform inspection');
    }
    if (config.apiUrls.length === 0) log.info('No ipa-api-url configured, Heartbeat and lookup skipped for inspector.');
  }
  if (!config.standalone && serving && config.apiUrls.length > 0) {
    const [{ ConductorLink }, advertise] = await Promise.all([
      import('./heartbeat/conductor-link.js'),
      import('./heartbeat/advertise-address.js'),
    ]);
    callbackUrl = advertise.callbackUrl;
    link = new ConductorLink({
      config,
      log,
      tokenGate,
      runner,
      nodeCache: services.node,
      agentVersion: AGENT_VERSION,
      lookUpAgainOnTokenRejection: power.mode === 'simulate',
      collectMacs: async () => {
        const { listNetworkInterfaces } = await import('../hardware/inventory/interfaces.js');
        return (await listNetworkInterfaces({ exec, log, enableVlanInterfaces: config.enableVlanInterfaces })).map(
          (i) => i.mac_address,
        );
      },
    });
    services.conductor = link;
    const stopLink = () => void link?.stop();
    options.signal?.addEventListener('abort', stopLink, { once: true });
    try {
      options.signal?.throwIfAborted();
      const lookup = link.lookup(inspectedNodeUuid);
      // The certificate library compiles while the lookup is on the wire; only a
      // conductor-linked agent can use it (it sends the certificate in its heartbeats).
      if (config.enableAutoTls && !config.listenTls) {
        autoTls = import('./tls/auto-tls.js');
        autoTls.catch(() => undefined); // awaited (and reported) in planTls
      }
      const decision = await lookup;
      if (decision.kind === 'fatal') serving = false;
      else {
        // Until it is found: the lookup took the one-time token (advertise-address.ts).
        advertiseHost = await advertise.resolveAdvertiseHostAfterLookup({
          advertiseHost: config.advertiseHost,
          networkInterface: config.networkInterface,
          lookupLocalAddress: link.lookupLocalAddress,
          apiUrls: config.apiUrls,
          certfile: config.certfile,
          keyfile: config.keyfile,
          attempts: config.ipLookupAttempts,
          sleepSeconds: config.ipLookupSleep,
          exec,
          log,
          signal: link.signal,
        });
      }
    } catch (error) {
      await link.stop();
      throw options.signal?.aborted ? options.signal.reason : error;
    } finally {
      options.signal?.removeEventListener('abort', stopLink);
    }
  }

  const plan = serving
    ? await planTls(config, link, advertiseHost, log, autoTls)
    : { https: undefined, protocol: 'http' as const, certificatePem: undefined };
  const app = createHttpServer({ log, https: plan.https });
  registerAgentRoutes(app, { runner, tokenGate, version: AGENT_VERSION, startedAt: () => startedAt });

  let port = config.listenPort;
  const listenOn = serving ? listenHost(config.listenHost, log, options.procRoot) : (config.listenHost ?? '::');
  if (serving) {
    await app.listen({ host: listenOn, port: config.listenPort });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : config.listenPort;
    log.info({ port, tls: plan.https !== undefined }, 'agent API listening');
    if (answerFirst) {
      idleStart = setTimeout(startCommands, IDLE_START_MS);
      const onCommand = (request: IncomingMessage) => {
        if (request.method !== 'GET' && request.method !== 'HEAD') startCommands();
      };
      app.server.on('request', onCommand);
      void commandsStarted.then(() => app.server.off('request', onCommand));
    }
  }
  const host = listenOn.includes(':') ? `[${listenOn}]` : listenOn;

  let resolveStopped!: (reason: string) => void;
  const stopped = new Promise<string>((resolve) => (resolveStopped = resolve));
  let closing: Promise<void> | undefined;
  // Stopped for good (not a power action): the process stays up, as IPA's (stay-up.ts).
  const processHold = new ProcessHold(log);
  const goDark = (reason: string, dropConnections: boolean, forGood: boolean): Promise<void> => {
    if (closing) return closing;
    serving = false;
    log.warn({ reason }, 'the agent stops serving the API and heartbeating');
    closing = (async () => {
      await link?.stop();
      const closed = app.close();
      // A machine that lost power does not finish its conversations.
      if (dropConnections) app.server.closeAllConnections();
      await closed;
      if (forGood) processHold.hold(reason);
      resolveStopped(reason);
    })();
    return closing;
  };
  // After the response that asked for it has gone out.
  stopServing = (reason) => new Promise<void>((resolve) => setImmediate(() => void goDark(reason, false, true).then(resolve)));
  // The machine powers off or reboots (or, simulated, behaves so): nothing is left to keep.
  power.on(
    'halted',
    (record) =>
      void setImmediate(() => void goDark(`${record.mode === 'simulate' ? 'simulated ' : ''}${record.action}`, true, false)),
  );
  if (!serving) {
    processHold.hold('not serving');
    resolveStopped('not serving');
  }

  if (link && serving && callbackUrl) {
    // Without ipa-advertise-port the port the API listens on, where IPA advertises 9999 even
    // when ipa-listen-port moved the API elsewhere (a callback URL nothing answers).
    link.startHeartbeats(callbackUrl(plan.protocol, advertiseHost!, config.advertisePort ?? port), plan.certificatePem);
  }

  return {
    url: `${plan.https ? 'https' : 'http'}://${host}:${port}`,
    port,
    app,
    runner,
    services,
    tokenGate,
    get loadProblems() {
      return loadProblems;
    },
    power,
    conductor: link,
    certificatePem: plan.certificatePem,
    get serving() {
      return serving;
    },
    stopped,
    ready,
    async close() {
      processHold.release();
      clearTimeout(idleStart);
      // Managers still starting finish first: nothing of this agent runs after close().
      if (commandsStarting) await ready.catch(() => undefined);
      runner.abortAll();
      // The running command's tools are killed and its clean-up (e.g. wiping a half-written
      // image's partition table) finishes before the process may end.
      await runner.drained();
      // One shutdown path, whichever comes first: close() or going dark.
      closing ??= (async () => {
        serving = false;
        await link?.stop();
        await app.close();
        resolveStopped('closed');
      })();
      await closing;
      releaseRejections?.();
    },
  };
}
