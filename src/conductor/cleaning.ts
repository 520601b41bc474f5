/**
 * `conductor/cleaning.py`: automated and manual cleaning, step by step (reference §3.1–§3.4).
 */
import { AgentConnectionFailed, AgentInProgress, excClassAndMessage, pyStr } from './errors.js';
import { isStepSet } from './node.js';
import { states } from './states.js';
import type { Step, UserStep } from './step-types.js';
import { stepId } from './step-types.js';
import { setNodeCleaningSteps } from './steps.js';
import type { Task } from './task.js';
import { cleaningErrorHandler, updateNextStepIndex, wipeCleaningInternalInfo } from './utils.js';

function isManual(task: Task): boolean {
  return task.node.targetProvisionState === states.MANAGEABLE;
}

function waitEvent(task: Task): void {
  task.processEvent('wait', isManual(task) ? { targetState: states.MANAGEABLE } : {});
}

/** `fail_on_error(cleaning_error_handler, msg)`: any escaping exception fails cleaning. */
async function failOnError(task: Task, msg: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const [cls, text] = excClassAndMessage(error);
    await cleaningErrorHandler(task, `${msg}. ${cls}: ${text}`, { traceback: true });
  }
}

/** `do_node_clean(task, clean_steps=None, disable_ramdisk=False)`: the worker after provide/clean. */
export async function doNodeClean(task: Task, cleanSteps: UserStep[] | null = null, disableRamdisk = false): Promise<void> {
  const node = task.node;
  const manual = cleanSteps !== null;
  const automatedEnabled = node.automatedClean ?? task.conductor.conf.conductor.automatedClean;
  if (!manual && !automatedEnabled) {
    node.cleanStep = null;
    node.save();
    task.processEvent('done');
    return;
  }
  try {
    await task.driver.power.validate(task);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await cleaningErrorHandler(task, `Validation of node ${node.uuid} for cleaning failed: ${msg}`);
    return;
  }
  wipeCleaningInternalInfo(task);
  if (manual) {
    node.driverInternalInfo.clean_steps = cleanSteps;
    node.driverInternalInfo.cleaning_disable_ramdisk = disableRamdisk;
  }
  node.save();
  try {
    await task.driver.bios?.cacheBiosSettings?.(task);
  } catch (error) {
    task.conductor.log.warn({ node: node.uuid, err: error }, 'caching BIOS settings failed; cleaning goes on');
  }
  let prepareResult: unknown;
  if (!disableRamdisk) {
    try {
      prepareResult = await task.driver.deploy.prepareCleaning(task);
    } catch (error) {
      const [, msg] = excClassAndMessage(error);
      await cleaningErrorHandler(task, `Failed to prepare node ${node.uuid} for cleaning: ${msg}`);
      return;
    }
  }
  if (prepareResult === states.CLEANWAIT) {
    // The steps are computed on the agent's first heartbeat.
    waitEvent(task);
    return;
  }
  try {
    await setNodeCleaningSteps(task, disableRamdisk);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await cleaningErrorHandler(task, `Cannot clean node ${node.uuid}: ${msg}`);
    return;
  }
  const steps = (node.driverInternalInfo.clean_steps as Step[] | null) ?? [];
  await doNextCleanStep(task, steps.length > 0 ? 0 : null);
}

/** `do_next_clean_step(task, step_index)`: run from `index` until a step waits or all are done. */
async function doNextCleanStep(task: Task, stepIndex: number | null, disableRamdisk?: boolean): Promise<void> {
  await failOnError(task, 'Unexpected error when processing next clean step', async () => {
    const node = task.node;
    const dii = node.driverInternalInfo;
    const all = dii.clean_steps as Step[] | null;
    if (!Array.isArray(all)) throw new Error('AssertionError: no clean_steps in driver_internal_info');
    const steps = stepIndex === null ? [] : all.slice(stepIndex);
    const noRamdisk = disableRamdisk ?? !!dii.cleaning_disable_ramdisk;
    for (const [offset, step] of steps.entries()) {
      node.cleanStep = step;
      dii.clean_step_index = (stepIndex ?? 0) + offset;
      node.save();
      task.conductor.log.info(
        { node: node.uuid, step: stepId(step) },
        `executing clean step ${stepId(step)} on node ${node.uuid}`,
      );
      const iface = task.driver[step.interface as 'deploy'];
      let result: unknown;
      try {
        result = await iface.executeCleanStep(task, step);
      } catch (error) {
        if ((error instanceof AgentConnectionFailed && dii.cleaning_reboot) || error instanceof AgentInProgress) {
          task.conductor.log.info(
            { node: node.uuid },
            `agent not ready for clean step ${stepId(step)} (${(error as Error).message}); waiting for its next heartbeat`,
          );
          dii.skip_current_clean_step = false;
          node.save();
          waitEvent(task);
          return;
        }
        const [, msg] = excClassAndMessage(error);
        const message = `Node ${node.uuid} failed step ${pyStr(step)}: ${msg}`;
        if (!noRamdisk) await collectRamdiskLogs(task, 'cleaning');
        await cleaningErrorHandler(task, message, { traceback: true });
        return;
      }
      if (result === states.CLEANWAIT) {
        task.conductor.log.info({ node: node.uuid, step: stepId(step) }, `clean step ${stepId(step)} continues asynchronously`);
        waitEvent(task);
        return;
      }
      if (result !== undefined && result !== null) {
        await cleaningErrorHandler(
          task,
          `While executing step ${pyStr(step)} on node ${node.uuid}, step returned invalid value: ${pyStr(result)}`,
        );
        return;
      }
      task.conductor.log.info({ node: node.uuid, step: stepId(step) }, `node ${node.uuid} finished clean step ${stepId(step)}`);
    }
    const manual = isManual(task);
    node.cleanStep = null;
    wipeCleaningInternalInfo(task);
    node.save();
    if (!noRamdisk) {
      try {
        await task.driver.deploy.tearDownCleaning(task);
      } catch (error) {
        const [, msg] = excClassAndMessage(error);
        await cleaningErrorHandler(task, `Failed to tear down from cleaning for node ${node.uuid}, reason: ${msg}`, {
          tearDownCleaning: false,
        });
        return;
      }
    }
    task.conductor.log.info({ node: node.uuid }, `node ${node.uuid} cleaning complete`);
    task.processEvent(manual ? 'manage' : 'done');
  });
}

/** `continue_node_clean`: move past the step that just finished (or abort if asked to). */
export async function continueNodeClean(task: Task): Promise<void> {
  await failOnError(task, 'Unexpected error when processing next clean step', async () => {
    const next = updateNextStepIndex(task, 'clean');
    const current = task.node.cleanStep;
    if (isStepSet(current) && current.abort_after && next !== null) {
      const manual = isManual(task);
      task.processEvent('fail', manual ? { targetState: states.MANAGEABLE } : {});
      await doNodeCleanAbort(task, stepId(current));
      return;
    }
    await doNextCleanStep(task, next);
  });
}

/** `do_node_clean_abort`: tear down and record why cleaning stopped. */
export async function doNodeCleanAbort(task: Task, stepName?: string): Promise<void> {
  const node = task.node;
  try {
    await task.driver.deploy.tearDownCleaning(task);
  } catch (error) {
    const [, msg] = excClassAndMessage(error);
    await cleaningErrorHandler(
      task,
      `Failed to tear down cleaning for node ${node.uuid} after aborting the operation. Error: ${msg}`,
      { setFailState: false },
    );
    return;
  }
  let info = 'By request, the clean operation was aborted';
  if (stepName) info += ` during or after the completion of step "${stepName}"`;
  node.lastError = info;
  node.cleanStep = null;
  wipeCleaningInternalInfo(task);
  node.save();
}

async function collectRamdiskLogs(task: Task, label: string): Promise<void> {
  const deploy = task.driver.deploy as { collectRamdiskLogs?: (task: Task, label: string) => Promise<void> };
  await deploy.collectRamdiskLogs?.(task, label);
}
