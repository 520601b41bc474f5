/**
 * `drivers/modules/agent_client.py`: the conductor → agent HTTP protocol (reference §6).
 *
 * `POST <agent_url>/v1/commands/?wait=<true|false>[&agent_token=…]` with
 * `{"name": "<extension>.<command>", "params": {...}}`; every request times out after
 * `[agent]command_timeout` (60 s); connection failures are retried up to
 * `[agent]max_command_attempts` (3) times with no wait, after checking whether the agent got
 * the command anyway; 409 (or "agent is busy") is `AgentInProgress`; other HTTP errors are
 * `AgentAPIError` with the agent's `faultstring`; `poll` waits for an async command by
 * reading the command list every `command_wait_interval` s, `command_wait_attempts` times.
 *
 * One deliberate difference from 2023.1: `GET /v1/commands/` carries `agent_token` (as
 * Ironic does since 29.0.0/2025.1), because current agents, ours and IPA since LP#2160196,
 * require the token on every `/commands` route.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, fetch, type Response } from 'undici';
import {
  AgentAPIError,
  AgentCommandTimeout,
  AgentConnectionFailed,
  AgentInProgress,
  InvalidParameterValue,
  IronicException,
} from './errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { type NodeData, type Port } from './node.js';
import type { Step } from './step-types.js';

export { type AgentCommand, getCommandError, maskSecrets, nodeAsDict } from './agent-wire.js';
import { type AgentCommand, maskSecrets, nodeAsDict, portAsDict } from './agent-wire.js';
import type { ConductorConf } from './conf.js';

export type ClientConf = Pick<
  ConductorConf['agent'],
  'commandTimeout' | 'maxCommandAttempts' | 'commandWaitAttempts' | 'commandWaitInterval' | 'agentApiVersion'
>;

function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // fetch: TypeError('fetch failed', {cause: ECONNREFUSED…}); timeouts: TimeoutError/AbortError.
  return (
    error.name === 'TimeoutError' ||
    error.name === 'AbortError' ||
    (error.name === 'TypeError' && error.message === 'fetch failed')
  );
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error.name === 'TimeoutError') return `${error.message}`;
  return cause?.message ? `${error.message}: ${cause.message}` : error.message;
}

export interface InstallBootloaderOptions {
  rootUuid: string | null;
  targetBootMode: string;
  efiSystemPartUuid?: string | null;
  prepBootPartUuid?: string | null;
  softwareRaid?: boolean;
}

/**
 * `_get_verify`: the first of `driver_internal_info.agent_verify_ca` (the certificate the
 * agent sent in its heartbeat, stored as a file), `driver_info.agent_verify_ca` and the
 * default (verify against the system CAs). Strings are booleans or paths.
 */
function agentVerifyOption(node: NodeData): boolean | string {
  const value = node.driverInternalInfo.agent_verify_ca ?? node.driverInfo.agent_verify_ca ?? true;
  if (typeof value === 'boolean') return value;
  const text = String(value);
  if (/^(true|1|yes|on|t|y)$/i.test(text)) return true;
  if (/^(false|0|no|off|f|n)$/i.test(text)) return false;
  if (!existsSync(text)) throw new InvalidParameterValue(`Agent CA ${text} is neither a path nor a boolean`);
  return text;
}

export class AgentClient {
  readonly #dispatchers = new Map<string, Agent>();

  constructor(
    readonly conf: ClientConf,
    readonly log: Logger = silentLogger,
  ) {}

  /**
   * A connection pool per verification setting and CA certificate. Keyed by the
   * certificate's content, not its path: a freshly booted agent's new certificate is stored at
   * the same path, and a pool built with the old one failed every request of the node's
   * second provisioning ("self-signed certificate") until the conductor restarted.
   */
  #dispatcher(node: NodeData): Agent | undefined {
    const url = String(node.driverInternalInfo.agent_url ?? '');
    if (!url.startsWith('https:')) return undefined;
    const verify = agentVerifyOption(node);
    const ca = typeof verify === 'string' ? readFileSync(verify, 'utf8') : undefined;
    const key = ca === undefined ? String(verify) : `${verify}\0${createHash('sha256').update(ca).digest('hex')}`;
    let dispatcher = this.#dispatchers.get(key);
    if (!dispatcher) {
      if (typeof verify === 'string') this.#dropPoolsFor(verify);
      dispatcher = new Agent({
        connect: verify === false ? { rejectUnauthorized: false } : ca !== undefined ? { ca } : {},
      });
      this.#dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /** Pools built with an earlier certificate stored at `path` (it was replaced). */
  #dropPoolsFor(path: string): void {
    for (const [key, old] of this.#dispatchers) {
      if (!key.startsWith(`${path}\0`)) continue;
      this.#dispatchers.delete(key);
      void old.close().catch(() => undefined);
    }
  }

  /** Close the connection pools (a task's client is dropped with the task). */
  async close(): Promise<void> {
    await Promise.all([...this.#dispatchers.values()].map((d) => d.close()));
    this.#dispatchers.clear();
  }

  #baseUrl(node: NodeData): string {
    const url = node.driverInternalInfo.agent_url as string | undefined;
    if (!url) throw new AgentConnectionFailed('Agent driver requires agent_url in driver_internal_info');
    return url.replace(/\/+$/, '');
  }

  #commandUrl(node: NodeData): string {
    return `${this.#baseUrl(node)}/${this.conf.agentApiVersion}/commands/`;
  }

  #timeoutSignal(): AbortSignal {
    return AbortSignal.timeout(this.conf.commandTimeout * 1000);
  }

  /** `_command` with tenacity's retry on AgentConnectionFailed (no wait, max attempts). */
  async command(
    node: NodeData,
    method: string,
    params: Record<string, unknown>,
    options: { wait?: boolean; poll?: boolean } = {},
  ): Promise<AgentCommand> {
    if (options.wait && options.poll) throw new Error('wait and poll are mutually exclusive');
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#commandOnce(node, method, params, options);
      } catch (error) {
        if (!(error instanceof AgentConnectionFailed) || attempt >= this.conf.maxCommandAttempts) throw error;
        this.log.warn({ node: node.uuid, method, attempt }, `retrying agent command ${method}: ${error.message}`);
      }
    }
  }

  async #commandOnce(
    node: NodeData,
    method: string,
    params: Record<string, unknown>,
    options: { wait?: boolean; poll?: boolean },
  ): Promise<AgentCommand> {
    const url = new URL(this.#commandUrl(node));
    url.searchParams.set('wait', options.wait ? 'true' : 'false');
    const token = node.driverInternalInfo.agent_secret_token as string | undefined;
    if (token) url.searchParams.set('agent_token', token);
    const body = JSON.stringify({ name: method, params });
    this.log.debug({ node: node.uuid, method, wait: !!options.wait }, `executing agent command ${method}`);
    let result: any;
    try {
      const dispatcher = this.#dispatcher(node);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        signal: this.#timeoutSignal(),
        ...(dispatcher ? { dispatcher } : {}),
      });
      result = this.#readCommandResponse(node, method, params, response, await response.text());
    } catch (error) {
      if (!isConnectionFailure(error)) {
        if (error instanceof IronicException) throw error;
        throw new IronicException(
          `Error invoking agent command ${method} for node ${node.uuid}. Error: ${describeFailure(error)}`,
        );
      }
      // As Ironic's `_command`: a command found running after a lost answer is the result, and
      // a polled command is then waited for like any other. Returning it here unpolled made
      // image.install_bootloader look finished (RUNNING is not FAILED) while it still ran, and
      // tear_down_agent powered the ramdisk off under it.
      result = await this.#handleTimeoutOnCommandExecution(node, method, error);
    }
    this.#raiseIfTypeError(result, node);
    if (options.poll) return this.#waitForCommand(node, method);
    return result as AgentCommand;
  }

  /** The answer to a POST: the command, or Ironic's exception for a non-JSON or error answer. */
  #readCommandResponse(
    node: NodeData,
    method: string,
    params: Record<string, unknown>,
    response: Response,
    text: string,
  ): unknown {
    let result: any;
    try {
      result = JSON.parse(text);
    } catch {
      // Ironic's message, but its URL is the command URL without the query string (requests
      // gets the token as a separate parameter) and here the body is masked as well: this text
      // becomes the node's last_error, which the API shows.
      const shown = JSON.stringify({ name: method, params: maskSecrets(params) });
      throw new IronicException(
        `Unable to decode response as JSON.\nRequest URL: ${this.#commandUrl(node)}\nRequest body: "${shown}"\nResponse status code: ${response.status}\nResponse: "${text}"`,
      );
    }
    if (response.status >= 400) {
      const faultstring = typeof result?.faultstring === 'string' ? result.faultstring : JSON.stringify(result);
      if (response.status === 409 || faultstring.toLowerCase().includes('agent is busy')) {
        throw new AgentInProgress(node.uuid, method, faultstring);
      }
      if (faultstring.includes('agent_token')) {
        this.log.error(
          { node: node.uuid },
          'Agent command failed; the agent may be an older ramdisk which does not support agent_token',
        );
      }
      throw new AgentAPIError(node.uuid, response.status, faultstring);
    }
    return result;
  }

  /** The agent may have got the command although the response was lost: look before failing. */
  async #handleTimeoutOnCommandExecution(node: NodeData, method: string, error: unknown): Promise<AgentCommand> {
    const shortName = method.includes('.') ? method.slice(method.indexOf('.') + 1) : method;
    let commands: AgentCommand[] = [];
    try {
      commands = await this.getCommandsStatus(node, { retryConnection: false });
    } catch {
      // fall through to the connection failure below
    }
    const last = commands[commands.length - 1];
    if (last && last.command_name === shortName && last.command_status === 'RUNNING') {
      this.log.info({ node: node.uuid, method }, 'the agent received the command before the connection failed; continuing');
      return last;
    }
    throw new AgentConnectionFailed(
      `Failed to connect to the agent running on node ${node.uuid} for invoking command ${method}. Error: ${describeFailure(error)}`,
    );
  }

  #raiseIfTypeError(result: any, node: NodeData): void {
    const error = result?.command_error;
    if (error && typeof error === 'object' && error.type === 'TypeError') {
      throw new AgentAPIError(node.uuid, error.code, String(error.details ?? error.message ?? ''));
    }
  }

  /** `GET /v1/commands/`: the agent's commands, oldest first. */
  async getCommandsStatus(
    node: NodeData,
    options: { retryConnection?: boolean; expectErrors?: boolean } = {},
  ): Promise<AgentCommand[]> {
    const attempts = options.retryConnection === false ? 1 : this.conf.maxCommandAttempts;
    const url = new URL(this.#commandUrl(node));
    const token = node.driverInternalInfo.agent_secret_token as string | undefined;
    if (token) url.searchParams.set('agent_token', token);
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        const dispatcher = this.#dispatcher(node);
        response = await fetch(url, { signal: this.#timeoutSignal(), ...(dispatcher ? { dispatcher } : {}) });
      } catch (error) {
        const failure = new AgentConnectionFailed(
          `Failed to connect to the agent running on node ${node.uuid} to collect commands status. Error: ${describeFailure(error)}`,
        );
        if (!isConnectionFailure(error) || attempt >= attempts) throw failure;
        continue;
      }
      // Ironic does not check the status: a body without `commands` is an error of its own.
      const body = (await response.json()) as { commands?: AgentCommand[] };
      if (!Array.isArray(body.commands)) {
        throw new IronicException(
          `Agent on node ${node.uuid} returned no command list (HTTP ${response.status}): ${JSON.stringify(body)}`,
        );
      }
      return body.commands;
    }
  }

  /** The last command named `method` (prefix `extension.` ignored), or undefined. */
  async getLastCommandStatus(node: NodeData, method: string): Promise<AgentCommand | undefined> {
    const shortName = method.includes('.') ? method.slice(method.indexOf('.') + 1) : method;
    const commands = await this.getCommandsStatus(node);
    return [...commands].reverse().find((c) => c.command_name === shortName);
  }

  async #waitForCommand(node: NodeData, method: string): Promise<AgentCommand> {
    for (let attempt = 1; ; attempt++) {
      const command = await this.getLastCommandStatus(node, method);
      if (command && command.command_status !== 'RUNNING') {
        this.#raiseIfTypeError(command, node);
        return command;
      }
      if (attempt >= this.conf.commandWaitAttempts) throw new AgentCommandTimeout(method, node.uuid);
      await new Promise((r) => setTimeout(r, this.conf.commandWaitInterval * 1000));
    }
  }

  getCleanSteps(node: NodeData, ports: readonly Port[]): Promise<AgentCommand> {
    return this.command(node, 'clean.get_clean_steps', { node: nodeAsDict(node), ports: ports.map(portAsDict) }, { wait: true });
  }

  executeCleanStep(step: Step, node: NodeData, ports: readonly Port[]): Promise<AgentCommand> {
    return this.command(node, 'clean.execute_clean_step', {
      step,
      node: nodeAsDict(node),
      ports: ports.map(portAsDict),
      clean_version: node.driverInternalInfo.hardware_manager_version ?? null,
    });
  }

  getDeploySteps(node: NodeData, ports: readonly Port[]): Promise<AgentCommand> {
    return this.command(
      node,
      'deploy.get_deploy_steps',
      { node: nodeAsDict(node), ports: ports.map(portAsDict) },
      { wait: true },
    );
  }

  executeDeployStep(step: Step, node: NodeData, ports: readonly Port[]): Promise<AgentCommand> {
    return this.command(node, 'deploy.execute_deploy_step', {
      step,
      node: nodeAsDict(node, { maskConfigdrive: false }),
      ports: ports.map(portAsDict),
      deploy_version: node.driverInternalInfo.hardware_manager_version ?? null,
    });
  }

  getPartitionUuids(node: NodeData): Promise<AgentCommand> {
    return this.command(node, 'standby.get_partition_uuids', {}, { wait: true });
  }

  /** `image.install_bootloader`, polled; an agent that rejects `target_boot_mode` gets it again without. */
  async installBootloader(node: NodeData, options: InstallBootloaderOptions): Promise<AgentCommand> {
    const params: Record<string, unknown> = {
      root_uuid: options.rootUuid,
      efi_system_part_uuid: options.efiSystemPartUuid ?? null,
      prep_boot_part_uuid: options.prepBootPartUuid ?? null,
      target_boot_mode: options.targetBootMode,
    };
    try {
      return await this.command(node, 'image.install_bootloader', params, { poll: true });
    } catch (error) {
      if (!(error instanceof AgentAPIError) || (options.targetBootMode === 'uefi' && options.softwareRaid)) throw error;
      this.log.warn({ node: node.uuid }, 'the agent does not support target_boot_mode; retrying without it');
      delete params.target_boot_mode;
      return this.command(node, 'image.install_bootloader', params, { poll: true });
    }
  }

  powerOff(node: NodeData): Promise<AgentCommand> {
    return this.command(node, 'standby.power_off', {});
  }

  /** `standby.run_image` (`REBOOT_COMMAND`), used by the `agent` power interface. */
  reboot(node: NodeData): Promise<AgentCommand> {
    return this.command(node, 'standby.run_image', {});
  }

  sync(node: NodeData): Promise<AgentCommand> {
    return this.command(node, 'standby.sync', {}, { wait: true });
  }

  collectSystemLogs(node: NodeData): Promise<AgentCommand> {
    return this.command(node, 'log.collect_system_logs', {}, { wait: true });
  }

  async finalizeRescue(
    node: NodeData,
    options: { hashedPassword?: string; plainPassword?: string; requireHashed?: boolean } = {},
  ): Promise<AgentCommand> {
    try {
      return await this.command(node, 'rescue.finalize_rescue', {
        rescue_password: options.hashedPassword ?? null,
        hashed: true,
      });
    } catch (error) {
      if (!(error instanceof AgentAPIError) || options.requireHashed !== false || options.plainPassword === undefined)
        throw error;
      return this.command(node, 'rescue.finalize_rescue', { rescue_password: options.plainPassword });
    }
  }
}
