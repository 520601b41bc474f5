/**
 * `drivers/modules/agent_base.py` + `agent.py` (2023.1, reference §5): the agent-facing deploy
 * interface. In-band steps are cached from the agent, executed by POSTing them to it, and
 * completed by heartbeats that read the agent's last command.
 */
import { type AgentClient, type AgentCommand, getCommandError } from '../agent-client.js';
import { continueNodeClean } from '../cleaning.js';
import { continueNodeSteps } from '../continue-steps.js';
import { deployStep } from '../decorators.js';
import {
  prepareAgentBoot,
  prepareInbandCleaning,
  rebootToFinishStep,
  setFailedState,
  tearDownInbandCleaning,
} from '../deploy-utils.js';
import {
  AgentInProgress,
  excClassAndMessage,
  InstanceDeployFailure,
  InvalidParameterValue,
  MissingParameterValue,
  NodeCleaningFailure,
  NodeLocked,
} from '../errors.js';
import { isStepSet } from '../node.js';
import { FASTTRACK_HEARTBEAT_ALLOWED, HEARTBEAT_ALLOWED, HEARTBEAT_RECORD_ONLY, states, type StepReturn } from '../states.js';
import { findStep, isEquivalent, type Step, stepId } from '../step-types.js';
import { setNodeCleaningSteps, validateDeploySteps } from '../steps.js';
import type { Task } from '../task.js';
import {
  cleaningErrorHandler,
  deployingErrorHandler,
  fastTrackAble,
  isFastTrack,
  nodePowerAction,
  stepFields,
} from '../utils.js';
import { DeployInterface, type HeartbeatExtra } from './base.js';

type AgentStepType = 'clean' | 'deploy';

/** `agent_client.get_client(task)`: cached on the task; connection pools shared conductor-wide. */
export function getClient(task: Task): AgentClient {
  return (task.cachedAgentClient ??= task.conductor.agentClient);
}

function raiseFor(type: AgentStepType, task: Task, message: string): never {
  if (type === 'clean') throw new NodeCleaningFailure(task.node.uuid, message);
  throw new InstanceDeployFailure(message);
}

/** In-band deploy steps must sit between 41 and 99 (reference §5.1 "Agent steps"). */
export const INBAND_DEPLOY_PRIORITY_MIN = 41;
export const INBAND_DEPLOY_PRIORITY_MAX = 99;

function checkInbandDeployPriority(task: Task, step: Step): void {
  if (step.priority === 0) return;
  if (step.priority >= INBAND_DEPLOY_PRIORITY_MIN && step.priority <= INBAND_DEPLOY_PRIORITY_MAX) return;
  const why =
    step.priority > INBAND_DEPLOY_PRIORITY_MAX
      ? `it would sort before deploy.deploy (100), which has already run by the time the agent reports its steps, so it would never run`
      : `it would run after deploy.tear_down_agent (40) has powered the agent off, so it would fail with "has not been found ... Agent is not running"`;
  raiseFor(
    'deploy',
    task,
    `agent get_deploy_steps for node ${task.node.uuid} returned in-band deploy step ${stepId(step)} with priority ${step.priority}: ` +
      `in-band deploy steps must have priorities between ${INBAND_DEPLOY_PRIORITY_MIN} and ${INBAND_DEPLOY_PRIORITY_MAX} (or 0 to run only on request), because ${why}.`,
  );
}

/** `refresh_steps`: ask the agent for its steps and cache them grouped by interface. */
export async function refreshSteps(task: Task, type: AgentStepType): Promise<void> {
  const node = task.node;
  const client = getClient(task);
  let result: Record<string, any>;
  try {
    const command =
      type === 'clean' ? await client.getCleanSteps(node, task.ports) : await client.getDeploySteps(node, task.ports);
    result = command.command_result ?? {};
  } catch (error) {
    if (error instanceof AgentInProgress) {
      task.conductor.log.info(
        { node: node.uuid },
        `agent on node ${node.uuid} is busy; will refresh ${type} steps on the next heartbeat`,
      );
      return;
    }
    throw error;
  }
  const stepsKey = `${type}_steps`;
  const missing = [stepsKey, 'hardware_manager_version'].filter((k) => !(k in result));
  if (missing.length > 0) {
    raiseFor(
      type,
      task,
      `agent get_${type}_steps for node ${node.uuid} returned an invalid result. Keys: ${missing.join(', ')} are missing from result: ${JSON.stringify(result)}.`,
    );
  }
  const byInterface: Record<string, Step[]> = {};
  for (const steps of Object.values(result[stepsKey] as Record<string, Step[]>)) {
    for (const step of steps) {
      const absent = ['interface', 'step', 'priority'].filter((k) => !(k in step));
      if (absent.length > 0) {
        raiseFor(
          type,
          task,
          `agent get_${type}_steps for node ${node.uuid} returned an invalid ${type} step. Keys: ${absent.join(', ')} are missing from step: ${JSON.stringify(step)}.`,
        );
      }
      if (type === 'clean') step.requires_ramdisk = true;
      if (type === 'deploy' && (step.interface === 'deploy' || step.interface === 'raid')) checkInbandDeployPriority(task, step);
      (byInterface[step.interface] ??= []).push(step);
    }
  }
  const dii = node.driverInternalInfo;
  dii.hardware_manager_version = result.hardware_manager_version;
  dii[`agent_cached_${type}_steps`] = byInterface;
  dii[`agent_cached_${type}_steps_refreshed`] = new Date().toISOString();
  node.save();
  task.conductor.log.info({ node: node.uuid }, `refreshed ${type} steps from the agent on node ${node.uuid}`);
}

/** `get_steps`: cached in-band steps of one interface, with priority overrides. */
export function getSteps(
  task: Task,
  type: AgentStepType,
  options: { interface?: string; overridePriorities?: Record<string, number | null> } = {},
): Step[] {
  const cached = task.node.driverInternalInfo[`agent_cached_${type}_steps`] as Record<string, Step[]> | undefined;
  if (!cached) return [];
  const steps = (options.interface ? (cached[options.interface] ?? []) : Object.values(cached).flat()).map((s) => ({ ...s }));
  for (const step of steps) {
    const override = options.overridePriorities?.[step.step];
    if (override !== undefined && override !== null) step.priority = override;
  }
  return steps;
}

/**
 * `agent_base.execute_step`: send an in-band step to the agent; the node waits for the
 * agent's heartbeats to learn how it ended.
 */
export async function executeStep(
  task: Task,
  step: Step,
  type: AgentStepType,
  options: { client?: AgentClient } = {},
): Promise<typeof states.CLEANWAIT | typeof states.DEPLOYWAIT> {
  const client = options.client ?? getClient(task);
  const result =
    type === 'clean'
      ? await client.executeCleanStep(step, task.node, task.ports)
      : await client.executeDeployStep(step, task.node, task.ports);
  if (!result.command_status) {
    raiseFor(
      type,
      task,
      `Agent on node ${task.node.uuid} returned bad command result: ${JSON.stringify(result.command_error ?? null)}`,
    );
  }
  return type === 'clean' ? states.CLEANWAIT : states.DEPLOYWAIT;
}

export type PostStepHook = (task: Task, command: AgentCommand) => void | Promise<void>;
const POST_STEP_HOOKS = new Map<string, PostStepHook>();

/** `@post_clean_step_hook(interface, step)` / `@post_deploy_step_hook`, as a registration call. */
export function registerPostStepHook(type: AgentStepType, iface: string, step: string, hook: PostStepHook): void {
  POST_STEP_HOOKS.set(`${type}:${iface}.${step}`, hook);
}

/** `_freshly_booted` (2023.1): nothing ran yet, or only `get_<type>_steps`. */
function freshlyBooted(commands: AgentCommand[], type: AgentStepType): boolean {
  return commands.length === 0 || (commands.length === 1 && commands[0]!.command_name === `get_${type}_steps`);
}

/** `_get_completed_command`: the last command if it is the finished current step. */
function getCompletedCommand(task: Task, commands: AgentCommand[], type: AgentStepType): AgentCommand | undefined {
  const last = commands[commands.length - 1];
  if (!last) return undefined;
  if (last.command_name !== `execute_${type}_step`) {
    task.conductor.log.debug({ node: task.node.uuid }, 'An out-of-band step may be running. Waiting for next heartbeat.');
    return undefined;
  }
  if (last.command_status === 'RUNNING') return undefined;
  const current = task.node[stepFields(type).step];
  if (last.command_status === 'SUCCEEDED') {
    const done = last.command_result?.[`${type}_step`] as Step | undefined;
    if (!done || !isStepSet(current) || !isEquivalent(done, current)) return undefined;
  }
  return last;
}

async function stepFailureHandler(task: Task, type: AgentStepType, message: string): Promise<void> {
  const deploy = task.driver.deploy as AgentBaseDeploy;
  await deploy.collectRamdiskLogs?.(task, type === 'clean' ? 'cleaning' : 'deploy');
  if (type === 'clean') await cleaningErrorHandler(task, message);
  else await deployingErrorHandler(task, message);
}

async function postStepReboot(task: Task, type: AgentStepType): Promise<void> {
  const current = task.node[stepFields(type).step] as Step;
  try {
    await rebootToFinishStep(task);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await stepFailureHandler(
      task,
      type,
      `Reboot requested by ${type} step ${stepId(current)} failed for node ${task.node.uuid}: ${msg}`,
    );
    return;
  }
  const dii = task.node.driverInternalInfo;
  dii[stepFields(type).reboot] = true;
  if (!dii.agent_secret_token_pregenerated) delete dii.agent_secret_token;
  task.node.save();
}

async function processVersionMismatch(task: Task, type: AgentStepType): Promise<void> {
  await refreshSteps(task, type);
  if (type === 'clean' && task.node.targetProvisionState === states.MANAGEABLE) {
    task.node.driverInternalInfo.skip_current_clean_step = false;
    task.node.save();
  } else {
    await setNodeCleaningSteps(task);
  }
  await continueNodeSteps(task, type);
}

/** `process_next_step`: read the agent's last command and move on, wait, or fail. */
export async function processNextStep(task: Task, type: AgentStepType): Promise<void> {
  const node = task.node;
  const commands = await getClient(task).getCommandsStatus(node);
  const fields = stepFields(type);
  if (freshlyBooted(commands, type)) {
    delete node.driverInternalInfo[fields.reboot];
    node.save();
    task.conductor.log.info(
      { node: node.uuid },
      `agent on node ${node.uuid} was freshly booted; the previous ${type} step is complete`,
    );
    await continueNodeSteps(task, type);
    return;
  }
  const command = getCompletedCommand(task, commands, type);
  if (!command) return;
  const current = node[fields.step] as Step;
  const label = type === 'clean' ? 'Clean' : 'Deploy';
  const status = command.command_status;
  if (status === 'FAILED') {
    await stepFailureHandler(
      task,
      type,
      `${label} step ${stepId(current)} failed on node ${node.uuid}. ${getCommandError(command)}`,
    );
    return;
  }
  if (status === 'CLEAN_VERSION_MISMATCH' || status === 'VERSION_MISMATCH') {
    await processVersionMismatch(task, type);
    return;
  }
  if (status === 'SUCCEEDED') {
    const hook = POST_STEP_HOOKS.get(`${type}:${current.interface}.${current.step}`);
    if (hook) {
      try {
        await hook(task, command);
      } catch (error) {
        const [cls, msg] = excClassAndMessage(error);
        await stepFailureHandler(
          task,
          type,
          `For node ${node.uuid}, post ${type} step hook ${hook.name || 'hook'} failed for ${type} step ${stepId(current)}.${cls}: ${msg}`,
        );
        return;
      }
    }
    if (current.reboot_requested) {
      await postStepReboot(task, type);
      return;
    }
    await continueNodeSteps(task, type);
    return;
  }
  await stepFailureHandler(
    task,
    type,
    `Agent returned unknown status for ${type} step ${stepId(current)} on node ${node.uuid} : ${getCommandError(command)}.`,
  );
}

/** The deploy interface for nodes whose work runs in our agent (AgentBaseMixin + HeartbeatMixin). */
export class AgentBaseDeploy extends DeployInterface {
  override async prepareCleaning(task: Task): Promise<StepReturn> {
    const result = await prepareInbandCleaning(task, task.conductor.conf.agent.manageAgentBoot);
    if (result === undefined) await refreshSteps(task, 'clean');
    return result;
  }

  override async tearDownCleaning(task: Task): Promise<void> {
    await tearDownInbandCleaning(task, task.conductor.conf.agent.manageAgentBoot);
  }

  /** In-band clean steps of the `deploy` interface, IPA's erase priorities overridable. */
  override getCleanSteps(task: Task): Step[] {
    const { eraseDevicesPriority, eraseDevicesMetadataPriority } = task.conductor.conf.deploy;
    return getSteps(task, 'clean', {
      interface: 'deploy',
      overridePriorities: { erase_devices: eraseDevicesPriority, erase_devices_metadata: eraseDevicesMetadataPriority },
    });
  }

  override executeCleanStep(task: Task, step: Step): Promise<StepReturn> {
    return executeStep(task, step, 'clean');
  }

  /** Out-of-band steps plus the agent's `deploy` steps they do not shadow. */
  override getDeploySteps(task: Task): Step[] {
    const oob = this.deploySteps;
    const inband = getSteps(task, 'deploy', { interface: 'deploy' }).filter((s) => !findStep(oob, s));
    return [...oob, ...inband];
  }

  override async executeDeployStep(task: Task, step: Step): Promise<StepReturn> {
    if (findStep(this.deploySteps, step)) return super.executeDeployStep(task, step);
    if (!task.node.driverInternalInfo.agent_cached_deploy_steps) {
      throw new InstanceDeployFailure(
        `Deploy step ${stepId(step)} has not been found. Available out-of-band steps: ${JSON.stringify(this.deploySteps)}. Agent is not running.`,
      );
    }
    return executeStep(task, step, 'deploy');
  }

  override async prepare(task: Task): Promise<void> {
    if (task.node.provisionState === states.ACTIVE) return;
    if (await isFastTrack(task)) return;
    await nodePowerAction(task, states.POWER_OFF);
    if (task.conductor.conf.agent.manageAgentBoot) await prepareAgentBoot(task);
  }

  override async cleanUp(task: Task): Promise<void> {
    await task.driver.boot.cleanUpRamdisk(task);
    await task.driver.boot.cleanUpInstance(task);
  }

  /** `log.collect_system_logs` on failure, written where `[agent]deploy_logs_local_path` says. */
  async collectRamdiskLogs(task: Task, label: string): Promise<void> {
    const dir = task.conductor.deployLogsDir;
    if (!dir || !task.node.driverInternalInfo.agent_url) return;
    try {
      const command = await getClient(task).collectSystemLogs(task.node);
      const logs = command.command_result?.system_logs as string | undefined;
      if (!logs) return;
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      const file = `${dir}/${task.node.uuid}_${label}_${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`;
      writeFileSync(file, Buffer.from(logs, 'base64'));
      task.conductor.log.info({ node: task.node.uuid, file }, 'ramdisk logs collected');
    } catch (error) {
      task.conductor.log.warn({ node: task.node.uuid, err: error }, 'could not collect the ramdisk logs');
    }
  }

  /** `HeartbeatMixin.heartbeat`. */
  override async heartbeat(
    task: Task,
    callbackUrl: string,
    agentVersion: string | null,
    extra: HeartbeatExtra = {},
  ): Promise<void> {
    const node = task.node;
    const state = node.provisionState;
    if (!HEARTBEAT_ALLOWED.has(state) && !(fastTrackAble(task) && FASTTRACK_HEARTBEAT_ALLOWED.has(state))) {
      task.conductor.log.debug(
        { node: node.uuid },
        `Heartbeat from node ${node.uuid} in unsupported provision state ${state}, not taking any action.`,
      );
      return;
    }
    try {
      await task.upgradeLock({ retry: false });
    } catch (error) {
      if (error instanceof NodeLocked) {
        task.conductor.log.warn(
          { node: node.uuid },
          `Node ${node.uuid} is currently locked, skipping heartbeat processing (will retry on the next heartbeat)`,
        );
        return;
      }
      throw error;
    }
    const dii = node.driverInternalInfo;
    dii.agent_url = callbackUrl;
    dii.agent_version = agentVersion;
    dii.agent_last_heartbeat = new Date().toISOString();
    if (extra.agentVerifyCa) dii.agent_verify_ca = extra.agentVerifyCa;
    if (extra.agentStatus) dii.agent_status = extra.agentStatus;
    if (extra.agentStatusMessage) dii.agent_status_message = extra.agentStatusMessage;
    node.save();
    if (HEARTBEAT_RECORD_ONLY.has(node.provisionState)) return;
    if (node.maintenance) {
      task.conductor.log.warn(
        { node: node.uuid },
        `Heartbeat from node ${node.uuid} in maintenance mode; not taking any action.`,
      );
      return;
    }
    if (node.provisionState === states.DEPLOYWAIT) await this.#heartbeatDeployWait(task);
    else if (node.provisionState === states.CLEANWAIT) await this.#heartbeatCleanWait(task);
  }

  async #heartbeatDeployWait(task: Task): Promise<void> {
    const node = task.node;
    let msg = 'Failed checking if deploy is done';
    try {
      if (!node.driverInternalInfo.agent_cached_deploy_steps) {
        msg = 'Failed to load in-band deploy steps';
        await refreshSteps(task, 'deploy');
      }
      node.provisionUpdatedAt = new Date().toISOString();
      node.save();
      if (!node.driverInternalInfo.deployment_polling) {
        msg = 'Failed to process the next deploy step';
        await processNextStep(task, 'deploy');
      }
    } catch (error) {
      const lastError = `${msg}: ${(error as Error).message}`;
      task.conductor.log.error({ node: node.uuid }, `Asynchronous exception for node ${node.uuid}: ${lastError}`);
      if (node.provisionState === states.DEPLOYING || node.provisionState === states.DEPLOYWAIT)
        await setFailedState(task, lastError);
    }
  }

  async #heartbeatCleanWait(task: Task): Promise<void> {
    const node = task.node;
    let msg = 'Node failed to check cleaning progress';
    try {
      node.provisionUpdatedAt = new Date().toISOString();
      node.save();
      if (!isStepSet(node.cleanStep)) {
        msg = 'Node failed to start the first cleaning step';
        task.resumeCleaning();
        await refreshSteps(task, 'clean');
        await setNodeCleaningSteps(task);
        await continueNodeClean(task);
      } else if (!node.driverInternalInfo.cleaning_polling) {
        await processNextStep(task, 'clean');
      }
    } catch (error) {
      const lastError = `${msg}: ${(error as Error).message}`;
      if (node.provisionState === states.CLEANING || node.provisionState === states.CLEANWAIT) {
        await cleaningErrorHandler(task, `Asynchronous exception for node ${node.uuid}: ${lastError}`, { errmsg: lastError });
      }
    }
  }

  /** `tear_down_agent` (40): power the ramdisk off through the agent, then make sure. */
  @deployStep({ priority: 40 })
  async tearDownAgent(task: Task): Promise<StepReturn> {
    const node = task.node;
    const conf = task.conductor.conf.agent;
    try {
      if (node.driverInfo.deploy_forces_oob_reboot) {
        await getClient(task).sync(node);
        await nodePowerAction(task, states.POWER_OFF);
        return undefined;
      }
      try {
        await getClient(task).powerOff(node);
      } catch (error) {
        task.conductor.log.warn(
          { node: node.uuid },
          `failed to ask the agent to power off node ${node.uuid}: ${(error as Error).message}`,
        );
      }
      for (let attempt = 0; attempt <= conf.postDeployGetPowerStateRetries; attempt++) {
        if ((await task.driver.power.getPowerState(task)) === states.POWER_OFF) return undefined;
        if (attempt < conf.postDeployGetPowerStateRetries) await sleep(conf.postDeployGetPowerStateRetryInterval * 1000);
      }
      const waited = conf.postDeployGetPowerStateRetries * conf.postDeployGetPowerStateRetryInterval;
      task.conductor.log.warn(
        { node: node.uuid },
        `Failed to soft power off node ${node.uuid} in at least ${waited} seconds. Forcing hard power off and proceeding.`,
      );
      await nodePowerAction(task, states.POWER_OFF);
    } catch (error) {
      const [cls, msg] = excClassAndMessage(error);
      throw new InstanceDeployFailure(`Error rebooting node ${node.uuid} after deploy. ${cls}: ${msg}`);
    }
    return undefined;
  }

  /** `switch_to_tenant_network` (30): the `noop` network has nothing to switch. */
  @deployStep({ priority: 30 })
  async switchToTenantNetwork(task: Task): Promise<StepReturn> {
    task.conductor.log.info({ node: task.node.uuid }, 'network interface "noop": no tenant network to configure');
    return undefined;
  }

  /** `boot_instance` (20): power the instance on. */
  @deployStep({ priority: 20 })
  async bootInstance(task: Task): Promise<StepReturn> {
    try {
      await nodePowerAction(task, states.POWER_ON);
    } catch (error) {
      const [cls, msg] = excClassAndMessage(error);
      throw new InstanceDeployFailure(`Error booting node ${task.node.uuid} after deploy. ${cls}: ${msg}`);
    }
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `custom-agent`: the agent is up and running; the operator's own steps write the image. */
export class CustomAgentDeploy extends AgentBaseDeploy {
  /** `deploy` (100): boot the agent (or, under fast track, just refresh its steps). */
  @deployStep({ priority: 100 })
  async deploy(task: Task): Promise<StepReturn> {
    if (await isFastTrack(task)) {
      await refreshSteps(task, 'deploy');
      await validateDeploySteps(task);
      return undefined;
    }
    const dii = task.node.driverInternalInfo;
    if (!dii.deployment_reboot) await nodePowerAction(task, states.REBOOT);
    delete dii.deployment_reboot;
    task.node.save();
    return states.DEPLOYWAIT;
  }

  /** `prepare_instance_boot` (60): only the boot interface's part. */
  @deployStep({ priority: 60 })
  async prepareInstanceBoot(task: Task): Promise<StepReturn> {
    await task.driver.boot.prepareInstance(task);
    return undefined;
  }
}

/** The boot mode the instance will use: `instance_info`, node capabilities, then `[deploy]default_boot_mode`. */
export function getBootMode(task: Task): 'uefi' | 'bios' {
  const fromInstance = task.node.instanceInfo.deploy_boot_mode;
  if (fromInstance === 'uefi' || fromInstance === 'bios') return fromInstance;
  const caps = String(task.node.properties.capabilities ?? '');
  const match = /(?:^|,)boot_mode:(uefi|bios)(?:,|$)/.exec(caps);
  if (match) return match[1] as 'uefi' | 'bios';
  return task.conductor.conf.deploy.defaultBootMode;
}

/** `direct`: the agent downloads and writes the image itself. */
export class AgentDeploy extends CustomAgentDeploy {
  override validate(task: Task): void {
    const info = task.node.instanceInfo;
    if (!info.image_source) {
      throw new MissingParameterValue(`Node ${task.node.uuid} is missing some fields: instance_info.image_source`);
    }
    const hasChecksum = !!info.image_checksum || (!!info.image_os_hash_algo && !!info.image_os_hash_value);
    if (!hasChecksum) {
      throw new InvalidParameterValue(
        `image_source's "image_checksum" or "image_os_hash_algo" and "image_os_hash_value" must be provided in instance_info for node ${task.node.uuid}`,
      );
    }
  }

  /** `write_image` (80): hand the image to the agent's `deploy.write_image`. */
  @deployStep({ priority: 80 })
  async writeImage(task: Task): Promise<StepReturn> {
    const info = task.node.instanceInfo;
    const source = String(info.image_source);
    const imageInfo: Record<string, unknown> = {
      id: source.split('/').pop() ?? source,
      urls: [info.image_url ?? source],
      disk_format: info.image_disk_format ?? 'raw',
      container_format: info.image_container_format ?? 'bare',
      stream_raw_images: task.conductor.conf.agent.streamRawImages,
      node_uuid: task.node.uuid,
    };
    if (info.image_checksum) imageInfo.checksum = info.image_checksum;
    if (info.image_os_hash_algo) imageInfo.os_hash_algo = info.image_os_hash_algo;
    if (info.image_os_hash_value) imageInfo.os_hash_value = info.image_os_hash_value;
    if (info.configdrive) imageInfo.configdrive = info.configdrive;
    const step: Step = {
      interface: 'deploy',
      step: 'write_image',
      priority: 80,
      args: { image_info: imageInfo, configdrive: info.configdrive ?? null },
    };
    return executeStep(task, step, 'deploy');
  }

  /** `prepare_instance_boot` (60): partition UUIDs, bootloader when needed, boot from disk. */
  @deployStep({ priority: 60 })
  override async prepareInstanceBoot(task: Task): Promise<StepReturn> {
    const node = task.node;
    try {
      const client = getClient(task);
      const uuids = (await client.getPartitionUuids(node)).command_result ?? {};
      const rootUuid = (uuids['root uuid'] as string | undefined) ?? null;
      const efiUuid = (uuids['efi system partition uuid'] as string | undefined) ?? null;
      const prepUuid = (uuids['PReP Boot partition uuid'] as string | undefined) ?? null;
      node.driverInternalInfo.root_uuid_or_disk_id = rootUuid;
      node.driverInternalInfo.is_whole_disk_image = true;
      node.save();
      if (task.conductor.conf.agent.manageAgentBoot) {
        const bootMode = getBootMode(task);
        if (bootMode === 'uefi') {
          const result = await client.installBootloader(node, {
            rootUuid,
            targetBootMode: bootMode,
            efiSystemPartUuid: efiUuid,
            prepBootPartUuid: prepUuid,
          });
          if (result.command_status === 'FAILED') {
            throw new InstanceDeployFailure(
              `Failed to install a bootloader when deploying node ${node.uuid}: ${getCommandError(result)}`,
            );
          }
        }
        await task.driver.management.setBootDevice(task, 'disk', true);
        await task.driver.boot.prepareInstance(task);
      }
    } catch (error) {
      const [, msg] = excClassAndMessage(error);
      const text = msg.includes('deploy.prepare_instance_boot') ? msg : `Deploy step deploy.prepare_instance_boot failed: ${msg}`;
      await setFailedState(task, text);
      throw new InstanceDeployFailure(text);
    }
    return undefined;
  }
}
