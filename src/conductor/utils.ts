/**
 * `conductor/utils.py` pieces the step machinery needs: power actions and what they wipe,
 * the wipe helpers (reference §3.9), the failure handlers (§3.8), the next-step index (§3.7)
 * and fast track (§7.5).
 */
import { excClassAndMessage } from './errors.js';
import { FAILURE_STATES, type PowerState, states } from './states.js';
import { isStepSet } from './node.js';
import type { Node, Task } from './task.js';

/** Run by every power-off and reboot: the agent must look up again (new token) afterwards. */
export function wipeInternalInfoOnPowerOff(node: Node): void {
  const dii = node.driverInternalInfo;
  delete dii.agent_url;
  if (!dii.agent_secret_token_pregenerated) delete dii.agent_secret_token;
  delete dii.agent_cached_deploy_steps;
  delete dii.agent_cached_clean_steps;
  delete dii.agent_verify_ca;
}

function wipeTokenAndUrl(task: Task): void {
  const dii = task.node.driverInternalInfo;
  delete dii.agent_secret_token;
  delete dii.agent_secret_token_pregenerated;
  delete dii.agent_url;
  delete dii.agent_verify_ca;
}

export function wipeDeployInternalInfo(task: Task): void {
  if (!fastTrackAble(task)) wipeTokenAndUrl(task);
  const dii = task.node.driverInternalInfo;
  dii.deploy_steps = null;
  for (const key of [
    'user_deploy_steps',
    'agent_cached_deploy_steps',
    'deploy_step_index',
    'deployment_reboot',
    'deployment_polling',
    'skip_current_deploy_step',
    'steps_validated',
  ]) {
    delete dii[key];
  }
}

export function wipeCleaningInternalInfo(task: Task): void {
  if (!fastTrackAble(task)) wipeTokenAndUrl(task);
  const dii = task.node.driverInternalInfo;
  dii.clean_steps = null;
  for (const key of [
    'agent_cached_clean_steps',
    'clean_step_index',
    'cleaning_reboot',
    'cleaning_polling',
    'cleaning_disable_ramdisk',
    'skip_current_clean_step',
    'steps_validated',
  ]) {
    delete dii[key];
  }
}

function strictBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  return ['true', '1', 'yes', 'on', 't', 'y'].includes(String(value).toLowerCase());
}

/** Fast track is on (node `driver_info.fast_track` or `[deploy]fast_track`), no error pending. */
export function fastTrackAble(task: Task): boolean {
  const perNode = task.node.driverInfo.fast_track;
  const enabled = perNode !== undefined ? strictBool(perNode) : task.conductor.conf.deploy.fastTrack;
  return enabled && task.node.lastError === null;
}

function agentIsAlive(task: Task): boolean {
  const dii = task.node.driverInternalInfo;
  if (!dii.agent_url || !dii.agent_last_heartbeat) return false;
  const age = (Date.now() - Date.parse(dii.agent_last_heartbeat as string)) / 1000;
  return age <= task.conductor.conf.deploy.fastTrackTimeout;
}

export async function isFastTrack(task: Task): Promise<boolean> {
  return fastTrackAble(task) && (await task.driver.power.getPowerState(task)) === states.POWER_ON && agentIsAlive(task);
}

/** `node_power_action`: change power through the power interface and wipe agent info. */
export async function nodePowerAction(task: Task, newState: PowerState): Promise<void> {
  const node = task.node;
  const power = task.driver.power;
  if (newState === states.REBOOT || newState === states.SOFT_REBOOT) {
    await power.reboot(task);
  } else {
    await power.setPowerState(task, newState);
  }
  node.powerState =
    newState === states.REBOOT || newState === states.SOFT_REBOOT
      ? states.POWER_ON
      : newState === states.SOFT_POWER_OFF
        ? states.POWER_OFF
        : newState;
  if (newState !== states.POWER_ON) wipeInternalInfoOnPowerOff(node);
  node.driverInternalInfo.last_power_state_change = new Date().toISOString();
  if (!FAILURE_STATES.has(node.provisionState)) node.lastError = null;
  node.save();
  task.conductor.log.info({ node: node.uuid, power: newState }, `node ${node.uuid}: power action "${newState}"`);
}

const STEP_FIELDS = {
  clean: {
    step: 'cleanStep',
    index: 'clean_step_index',
    list: 'clean_steps',
    skip: 'skip_current_clean_step',
    polling: 'cleaning_polling',
    reboot: 'cleaning_reboot',
  },
  deploy: {
    step: 'deployStep',
    index: 'deploy_step_index',
    list: 'deploy_steps',
    skip: 'skip_current_deploy_step',
    polling: 'deployment_polling',
    reboot: 'deployment_reboot',
  },
} as const;

export function stepFields(type: 'clean' | 'deploy') {
  return STEP_FIELDS[type];
}

/** `_get_node_next_steps`: the index to run next, or null when nothing is left. */
function getNodeNextStepIndex(task: Task, type: 'clean' | 'deploy', skipCurrentStep = true): number | null {
  const fields = STEP_FIELDS[type];
  const current = task.node[fields.step];
  if (!isStepSet(current)) return 0;
  const dii = task.node.driverInternalInfo;
  const index = dii[fields.index] as number | null | undefined;
  if (index === null || index === undefined) return null;
  const next = skipCurrentStep ? index + 1 : index;
  const list = (dii[fields.list] as unknown[] | null) ?? [];
  return next >= list.length ? null : next;
}

/** `update_next_step_index`: consume the skip and polling flags, then compute the index. */
export function updateNextStepIndex(task: Task, type: 'clean' | 'deploy'): number | null {
  const fields = STEP_FIELDS[type];
  const dii = task.node.driverInternalInfo;
  const skip = dii[fields.skip] ?? true;
  delete dii[fields.skip];
  delete dii[fields.polling];
  task.node.save();
  return getNodeNextStepIndex(task, type, skip !== false);
}

export interface CleaningErrorOptions {
  errmsg?: string;
  traceback?: boolean;
  tearDownCleaning?: boolean;
  setFailState?: boolean;
  setMaintenance?: boolean;
}

/** `cleaning_error_handler` (reference §3.8). */
export async function cleaningErrorHandler(task: Task, logmsg: string, options: CleaningErrorOptions = {}): Promise<void> {
  const node = task.node;
  let errmsg = options.errmsg ?? logmsg;
  task.conductor.log.error({ node: node.uuid }, logmsg);
  const setMaintenance = options.setMaintenance ?? isStepSet(node.cleanStep);
  if (setMaintenance) {
    node.fault = 'clean failure';
    node.maintenance = true;
    node.maintenanceReason ??= errmsg;
  }
  if (options.tearDownCleaning ?? true) {
    try {
      await task.driver.deploy.tearDownCleaning(task);
    } catch (error) {
      const [cls, msg] = excClassAndMessage(error);
      task.conductor.log.error({ node: node.uuid }, `Failed to tear down cleaning on node ${node.uuid}, reason: ${cls}: ${msg}`);
      errmsg += '. Also failed to tear down cleaning.';
    }
  }
  if ([states.CLEANING, states.CLEANWAIT, states.CLEANFAIL].includes(node.provisionState as never)) {
    node.cleanStep = {};
    const dii = node.driverInternalInfo;
    for (const key of ['clean_step_index', 'cleaning_reboot', 'cleaning_polling', 'skip_current_clean_step']) delete dii[key];
    wipeTokenAndUrl(task);
  }
  node.lastError = errmsg;
  node.save();
  if ((options.setFailState ?? true) && node.provisionState !== states.CLEANFAIL) {
    const manual = node.targetProvisionState === states.MANAGEABLE;
    task.processEvent('fail', manual ? { targetState: states.MANAGEABLE } : {});
  }
}

/** `deploying_error_handler` (reference §3.8). */
export async function deployingErrorHandler(
  task: Task,
  logmsg: string,
  options: { errmsg?: string; cleanUp?: boolean } = {},
): Promise<void> {
  const node = task.node;
  let errmsg = options.errmsg ?? logmsg;
  task.conductor.log.error({ node: node.uuid }, logmsg);
  if (options.cleanUp ?? true) {
    try {
      await task.driver.deploy.cleanUp(task);
    } catch (error) {
      const [, msg] = excClassAndMessage(error);
      errmsg = `${errmsg} Also failed to clean up due to: ${msg}`;
    }
  }
  node.lastError = errmsg;
  node.save();
  if ([states.DEPLOYING, states.DEPLOYWAIT, states.DEPLOYFAIL].includes(node.provisionState as never)) {
    node.deployStep = {};
    wipeDeployInternalInfo(task);
    node.save();
  }
  if (node.provisionState !== states.DEPLOYFAIL) task.processEvent('fail');
}
