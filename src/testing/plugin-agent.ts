/**
 * A real agent in the test's process, with the plugins under test loaded exactly as a ramdisk
 * loads them, listening on 127.0.0.1 on a free port; and a client that speaks IPA's command API
 * to it the way a conductor does (list steps, run one, poll until it is done).
 */
import { randomBytes } from 'node:crypto';
import { startAgent } from '../agent/agent.js';
import { mergeConfig } from '../agent/config/load.js';
import type { StepPhase } from '../hardware/step.js';
import type { IronicNode } from '../hardware/step-context.js';

export interface PluginAgentOptions {
  /** Plugin folders (or folders of plugins), as `--hardware-manager-path` takes them. */
  pluginPaths: string[];
  /** Also load the managers shipped with the agent (default false: only yours). */
  shippedManagers?: boolean;
  /** Devices (or plain files) destructive steps may write, e.g. a scratch loop device. */
  allowDevices?: string[];
  /** `debug` to see the agent's log while a test is being written. */
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /** Seconds a manager may take to evaluate its support or initialise (agent default 30). */
  startTimeoutSeconds?: number;
  /** The config file's `hardware_managers`: each manager's own settings, by manager name. */
  managerSettings?: Record<string, Record<string, unknown>>;
}

/** A command's record as `GET /v1/commands/{id}` returns it. */
export interface CommandRecord {
  id: string;
  command_name: string;
  command_status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CLEAN_VERSION_MISMATCH';
  command_error: { type: string; code: number; message: string; details: string } | null;
  command_result: any;
  command_progress: Record<string, unknown> | null;
}

export interface PluginAgent {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The agent token every request carries. */
  token: string;
  /** POST /v1/commands/ (`wait` = IPA's ?wait=true); the HTTP status and body. */
  command(name: string, params: Record<string, unknown>, wait?: boolean): Promise<{ status: number; body: any }>;
  /** GET a path of the API with the token (e.g. `/v1/commands/`). */
  get(path: string): Promise<{ status: number; body: any }>;
  /** `get_<phase>_steps`, as Ironic caches them. */
  listSteps(
    phase: StepPhase,
    node?: IronicNode,
  ): Promise<{ steps: Record<string, any[]>; hardware_manager_version: Record<string, string>; [key: string]: unknown }>;
  /** `execute_<phase>_step`, polled until it leaves RUNNING; the final command record. */
  runStep(phase: StepPhase, step: string, args?: Record<string, unknown>, node?: IronicNode): Promise<CommandRecord>;
  close(): Promise<void>;
}

const TEST_NODE: IronicNode = {
  uuid: '00000000-0000-4000-8000-000000000000',
  properties: {},
  instance_info: {},
  driver_info: {},
  driver_internal_info: {},
};

export async function startAgentWithPlugins(options: PluginAgentOptions): Promise<PluginAgent> {
  const token = randomBytes(16).toString('hex');
  const config = mergeConfig({
    flags: {
      standalone: true,
      agentToken: token,
      listenHost: '127.0.0.1',
      listenPort: 0,
      powerActions: 'simulate',
      loadShippedManagers: options.shippedManagers ?? false,
      discoverInstalledPlugins: false,
      hardwareManagerPaths: options.pluginPaths,
      allowDevices: options.allowDevices ?? [],
      logLevel: options.logLevel ?? 'silent',
      ...(options.startTimeoutSeconds !== undefined ? { hardwareManagerStartTimeout: options.startTimeoutSeconds } : {}),
      ...(options.managerSettings ? { hardwareManagers: options.managerSettings } : {}),
    },
  });
  const agent = await startAgent({ config, logger: { level: options.logLevel ?? 'silent' } });
  // A standalone agent answers before its managers start: a plugin that cannot start fails
  // here, as it fails an agent's start-up.
  try {
    await agent.ready;
  } catch (error) {
    await agent.close();
    throw error;
  }
  const url = (path: string, query: Record<string, string> = {}) => {
    const params = new URLSearchParams({ ...query, agent_token: token });
    return `${agent.url}${path}?${params.toString()}`;
  };
  const get = async (path: string) => {
    const response = await fetch(url(path));
    return { status: response.status, body: (await response.json()) as any };
  };
  const command = async (name: string, params: Record<string, unknown>, wait = false) => {
    const response = await fetch(url('/v1/commands/', wait ? { wait: 'true' } : {}), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, params }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  let versions: Record<string, string> | undefined;
  const listSteps: PluginAgent['listSteps'] = async (phase, node = TEST_NODE) => {
    const { status, body } = await command(`${phase}.get_${phase}_steps`, { node, ports: [] }, true);
    if (status !== 200 || body.command_status !== 'SUCCEEDED')
      throw new Error(`get_${phase}_steps failed: ${JSON.stringify(body)}`);
    const result = body.command_result as Record<string, any>;
    versions = result.hardware_manager_version;
    return { ...result, steps: result[`${phase}_steps`], hardware_manager_version: result.hardware_manager_version };
  };
  const runStep: PluginAgent['runStep'] = async (phase, step, args = {}, node = TEST_NODE) => {
    if (!versions) await listSteps(phase, node);
    const { status, body } = await command(`${phase}.execute_${phase}_step`, {
      node,
      ports: [],
      step: { step, interface: 'deploy', args },
      [`${phase}_version`]: versions,
    });
    if (status !== 200) return body as CommandRecord;
    for (;;) {
      const current = await get(`/v1/commands/${body.id}`);
      if (current.body.command_status !== 'RUNNING') return current.body as CommandRecord;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { url: agent.url, token, command, get, listSteps, runStep, close: () => agent.close() };
}
