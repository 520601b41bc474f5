/**
 * `drivers/modules/deploy_utils.py` async helpers (reference §4, 2023.1 key names §3.10):
 * what an out-of-band step uses to say "I finish later".
 */
import { type Node, type Task } from './task.js';
import { isStepSet } from './node.js';
import { states } from './states.js';
import { deployingErrorHandler, isFastTrack, nodePowerAction } from './utils.js';

/** CLEANWAIT while cleaning, DEPLOYWAIT otherwise (2023.1). */
export function getAsyncStepReturnState(node: Node): typeof states.CLEANWAIT | typeof states.DEPLOYWAIT {
  return isStepSet(node.cleanStep) ? states.CLEANWAIT : states.DEPLOYWAIT;
}

export interface AsyncStepFlags {
  /** We are waiting for the agent to come back after a reboot. */
  reboot?: boolean;
  /** Whether resuming skips the current step (true) or runs it again (false). */
  skipCurrentStep?: boolean;
  /** A periodic task owns completion: heartbeats must not advance the step. */
  polling?: boolean;
}

/** `set_async_step_flags(node, reboot=None, skip_current_step=None, polling=None)`; saves. */
export function setAsyncStepFlags(node: Node, flags: AsyncStepFlags): void {
  const cleaning = isStepSet(node.cleanStep);
  const dii = node.driverInternalInfo;
  const names = cleaning
    ? { reboot: 'cleaning_reboot', skip: 'skip_current_clean_step', polling: 'cleaning_polling' }
    : { reboot: 'deployment_reboot', skip: 'skip_current_deploy_step', polling: 'deployment_polling' };
  if (flags.reboot !== undefined) {
    dii[names.reboot] = flags.reboot;
    if (flags.reboot && !dii.agent_secret_token_pregenerated) delete dii.agent_secret_token;
  }
  if (flags.skipCurrentStep !== undefined) dii[names.skip] = flags.skipCurrentStep;
  if (flags.polling !== undefined) dii[names.polling] = flags.polling;
  node.save();
}

/** `prepare_agent_boot`: have the boot interface boot the agent, pointed at this conductor. */
export async function prepareAgentBoot(task: Task): Promise<void> {
  await task.driver.boot.prepareRamdisk(task, { 'ipa-api-url': task.conductor.conf.api.publicUrl });
}

/** `reboot_to_finish_step`: boot the agent again and wait for it. */
export async function rebootToFinishStep(task: Task): Promise<typeof states.CLEANWAIT | typeof states.DEPLOYWAIT> {
  if (!task.node.driverInternalInfo.cleaning_disable_ramdisk) {
    if (await isFastTrack(task)) await nodePowerAction(task, states.POWER_OFF);
    await prepareAgentBoot(task);
  }
  await nodePowerAction(task, states.REBOOT);
  return getAsyncStepReturnState(task.node);
}

/** `prepare_inband_cleaning`: boot the agent for cleaning; CLEANWAIT unless fast track. */
export async function prepareInbandCleaning(task: Task, manageBoot = true): Promise<typeof states.CLEANWAIT | undefined> {
  const fastTrack = await isFastTrack(task);
  if (!fastTrack && task.node.powerState !== states.POWER_ON) {
    // Ironic powers the node off first so the reboot below starts from a known state.
    await nodePowerAction(task, states.POWER_OFF);
  }
  agentAddCleanParams(task);
  if (manageBoot) await prepareAgentBoot(task);
  if (fastTrack) return undefined;
  await nodePowerAction(task, states.REBOOT);
  return states.CLEANWAIT;
}

/** `tear_down_inband_cleaning`: power off unless fast track or a clean failure to inspect. */
export async function tearDownInbandCleaning(task: Task, manageBoot = true): Promise<void> {
  const fastTrack = await isFastTrack(task);
  if (!fastTrack && task.node.fault !== 'clean failure') await nodePowerAction(task, states.POWER_OFF);
  if (manageBoot) await task.driver.boot.cleanUpRamdisk(task);
}

/** `agent_add_clean_params`: the disk-erasure inputs IPA reads from `driver_internal_info`. */
export function agentAddCleanParams(task: Task): void {
  const dii = task.node.driverInternalInfo;
  const conf = task.conductor.conf.deploy;
  dii.agent_erase_devices_iterations = conf.shredRandomOverwriteIterations;
  dii.agent_erase_devices_zeroize = conf.shredFinalOverwriteWithZeros;
  dii.agent_continue_if_secure_erase_failed = conf.continueIfDiskSecureEraseFails;
  // Ironic still sets the deprecated ATA-only name to the same value.
  dii.agent_continue_if_ata_erase_failed = conf.continueIfDiskSecureEraseFails;
  dii.agent_enable_nvme_secure_erase = conf.enableNvmeSecureErase;
  dii.agent_enable_ata_secure_erase = conf.enableAtaSecureErase;
  dii.disk_erasure_concurrency = conf.diskErasureConcurrency;
  dii.agent_erase_skip_read_only = conf.eraseSkipReadOnly;
  task.node.save();
}

/** `set_failed_state`: deploy failure from agent code; powers off (and keeps `last_error`). */
export async function setFailedState(task: Task, msg: string, options: { collectLogs?: boolean } = {}): Promise<void> {
  if (options.collectLogs ?? true) {
    const deploy = task.driver.deploy as { collectRamdiskLogs?: (task: Task, label: string) => Promise<void> };
    await deploy.collectRamdiskLogs?.(task, 'deploy');
  }
  try {
    await deployingErrorHandler(task, msg, { errmsg: msg, cleanUp: false });
  } catch (error) {
    task.conductor.log.warn({ node: task.node.uuid, err: error }, 'could not move the node to DEPLOYFAIL');
  }
  if (task.conductor.conf.deploy.powerOffAfterDeployFailure) {
    try {
      await nodePowerAction(task, states.POWER_OFF);
    } catch (error) {
      task.conductor.log.error({ node: task.node.uuid, err: error }, 'failed to power off the node after a deploy failure');
    }
  }
  task.node.lastError = msg;
  task.node.save();
}
