/**
 * `conductor/deployments.py`: deploy a node step by step (reference §3.5–§3.6).
 */
import { doNodeClean } from './cleaning.js';
import { AgentConnectionFailed, AgentInProgress, excClassAndMessage, IronicException, pyStr } from './errors.js';
import { states } from './states.js';
import { type Step, stepId, type UserStep } from './step-types.js';
import { setNodeDeploymentSteps, validateDeploySteps } from './steps.js';
import type { Task } from './task.js';
import { deployingErrorHandler, nodePowerAction, updateNextStepIndex, wipeDeployInternalInfo } from './utils.js';

async function failOnError(task: Task, msg: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const [cls, text] = excClassAndMessage(error);
    await deployingErrorHandler(task, `${msg}. ${cls}: ${text}`);
  }
}

/** `do_node_deploy`: the worker after the API's `deploy`. */
export async function doNodeDeploy(task: Task, deploySteps: UserStep[] | null = null): Promise<void> {
  const node = task.node;
  wipeDeployInternalInfo(task);
  node.save();
  try {
    await task.driver.deploy.prepare(task);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await deployingErrorHandler(task, `Error while preparing to deploy to node ${node.uuid}: ${msg}`, {
      errmsg: `Failed to prepare to deploy: ${msg}`,
    });
    return;
  }
  try {
    if (deploySteps) node.driverInternalInfo.user_deploy_steps = deploySteps;
    await setNodeDeploymentSteps(task, { skipMissing: true });
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await deployingErrorHandler(task, `Error while getting deploy steps; cannot deploy to node ${node.uuid}. Error: ${msg}`, {
      errmsg: `Error while getting deploy steps: ${msg}`,
    });
    return;
  }
  const steps = node.driverInternalInfo.deploy_steps as Step[];
  if (!steps || steps.length === 0) {
    await deployingErrorHandler(task, `Error while getting deploy steps: no steps returned for node ${node.uuid}`, {
      errmsg: 'No deploy steps returned by the driver',
    });
    return;
  }
  await doNextDeployStep(task, 0);
}

/** `do_next_deploy_step`: re-reads the list every iteration (it may change in flight). */
async function doNextDeployStep(task: Task, stepIndex: number | null): Promise<void> {
  await failOnError(task, 'Unexpected error when processing next deploy step', async () => {
    const node = task.node;
    const dii = node.driverInternalInfo;
    let index = stepIndex;
    while (index !== null) {
      const steps = (dii.deploy_steps as Step[] | null) ?? [];
      const step = steps[index];
      if (!step) break;
      node.deployStep = step;
      dii.deploy_step_index = index;
      node.save();
      task.conductor.log.info(
        { node: node.uuid, step: stepId(step) },
        `executing deploy step ${stepId(step)} on node ${node.uuid}`,
      );
      let result: unknown;
      try {
        result = await task.driver[step.interface as 'deploy'].executeDeployStep(task, step);
      } catch (error) {
        if (error instanceof AgentInProgress || (error instanceof AgentConnectionFailed && dii.deployment_reboot)) {
          task.conductor.log.info(
            { node: node.uuid },
            `agent not ready for deploy step ${stepId(step)}; waiting for its next heartbeat`,
          );
          dii.skip_current_deploy_step = false;
          node.save();
          task.processEvent('wait');
          return;
        }
        if (node.provisionState === states.DEPLOYFAIL) return;
        const [cls, msg] = excClassAndMessage(error);
        const text =
          error instanceof IronicException
            ? `Deploy step ${stepId(step)} failed: ${msg}.`
            : `Deploy step ${stepId(step)} failed with ${cls}: ${msg}.`;
        await deployingErrorHandler(task, text, { errmsg: text });
        return;
      }
      if (node.provisionState === states.DEPLOYFAIL) return;
      if (result === states.DEPLOYWAIT) {
        if (node.provisionState !== states.DEPLOYWAIT) task.processEvent('wait');
        task.conductor.log.info({ node: node.uuid, step: stepId(step) }, `deploy step ${stepId(step)} continues asynchronously`);
        return;
      }
      if (result !== undefined && result !== null) {
        task.conductor.log.error(
          { node: node.uuid },
          `While executing deploy step ${pyStr(step)} on node ${node.uuid}, step returned unexpected state: ${pyStr(result)}`,
        );
        await deployingErrorHandler(task, `Failed to deploy: ${pyStr(node.deployStep)}`);
        return;
      }
      task.conductor.log.info({ node: node.uuid, step: stepId(step) }, `node ${node.uuid} finished deploy step ${stepId(step)}`);
      index = index + 1;
    }
    node.deployStep = null;
    wipeDeployInternalInfo(task);
    node.save();
    task.conductor.log.info({ node: node.uuid }, `successfully deployed node ${node.uuid}`);
    task.processEvent('done');
  });
}

/** `continue_node_deploy`: validate the final list once the agent's steps are known, then go on. */
export async function continueNodeDeploy(task: Task): Promise<void> {
  const node = task.node;
  if (!node.driverInternalInfo.steps_validated) {
    try {
      await validateDeploySteps(task);
    } catch (error) {
      const [, msg] = excClassAndMessage(error);
      await deployingErrorHandler(task, `Failed to validate the final deploy steps list for node ${node.uuid}: ${msg}`);
      return;
    }
  }
  const next = updateNextStepIndex(task, 'deploy');
  await doNextDeployStep(task, next);
}

/**
 * `_do_node_tear_down` (undeploy, DELETING): the deploy interface's clean-up and tear-down
 * (the agent interfaces' `tear_down` is a power-off), then cleaning. A failure moves the node
 * to ERROR with Ironic's "Failed to tear down: …"; before, the exception ended the worker and
 * left the node in "deleting" with no error and no action allowed. Whatever happens, the
 * instance's fields go (Ironic's `finally`).
 */
export async function doNodeTearDown(task: Task): Promise<void> {
  const node = task.node;
  let failure: string | null = null;
  try {
    await task.driver.deploy.cleanUp(task);
    await nodePowerAction(task, states.POWER_OFF);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    failure = `Failed to tear down: ${msg}`;
    task.conductor.log.error({ node: node.uuid }, `Error in tear_down of node ${node.uuid}: ${msg}`);
  }
  node.instanceInfo = {};
  wipeDeployInternalInfo(task);
  for (const key of ['root_uuid_or_disk_id', 'is_whole_disk_image', 'deploy_boot_mode']) delete node.driverInternalInfo[key];
  node.save();
  if (failure !== null) {
    task.processEvent('fail', { lastError: failure });
    return;
  }
  task.processEvent('clean', { targetState: states.AVAILABLE });
  await doNodeClean(task);
}
