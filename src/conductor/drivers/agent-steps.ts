/**
 * The in-band step half of `drivers/modules/agent_base.py` (2023.1, reference §5): steps are
 * cached from the agent (`refresh_steps`), executed by POSTing them to it (`execute_step`) and
 * completed by heartbeats that read the agent's last command (`process_next_step`).
 */
import { type AgentClient, type AgentCommand, getCommandError } from '../agent-client.js';
import { continueNodeSteps } from '../continue-steps.js';
import { rebootToFinishStep } from '../deploy-utils.js';
import { AgentInProgress, excClassAndMessage, InstanceDeployFailure, NodeCleaningFailure } from '../errors.js';
import { isStepSet } from '../node.js';
import { states } from '../states.js';
import { isEquivalent, type Step, stepId } from '../step-types.js';
import { setNodeCleaningSteps } from '../steps.js';
import type { Task } from '../task.js';
import { cleaningErrorHandler, deployingErrorHandler, stepFields } from '../utils.js';
import { DeployInterface } from './base.js';

export type AgentStepType = 'clean' | 'deploy';

/** A deploy interface that can fetch the ramdisk's logs on failure (AgentBaseDeploy can). */
type DeployWithRamdiskLogs = DeployInterface & {
  collectRamdiskLogs?(task: Task, label: 'cleaning' | 'deploy'): Promise<void>;
};

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

/**
 * `refresh_steps`: ask the agent for its steps and cache them grouped by interface. Resolves
 * false when the agent was busy (409) and nothing was cached, as Ironic logs and goes on.
 */
export async function refreshSteps(task: Task, type: AgentStepType): Promise<boolean> {
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
      return false;
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
  return true;
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
  const deploy = task.driver.deploy as DeployWithRamdiskLogs;
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
