/**
 * `drivers/modules/agent_base.py` (2023.1, reference §5): the deploy interface for nodes whose
 * work runs in our agent (AgentBaseMixin + HeartbeatMixin): in-band cleaning set-up and
 * tear-down, heartbeat handling, ramdisk logs. The step half is agent-steps.ts, re-exported
 * here as Ironic keeps both in one module; the concrete deploy interfaces are agent.ts.
 */
import { continueNodeClean } from '../cleaning.js';
import { deployStep } from '../decorators.js';
import { prepareAgentBoot, prepareInbandCleaning, setFailedState, tearDownInbandCleaning } from '../deploy-utils.js';
import { excClassAndMessage, InstanceDeployFailure, NodeLocked } from '../errors.js';
import { isStepSet } from '../node.js';
import { FASTTRACK_HEARTBEAT_ALLOWED, HEARTBEAT_ALLOWED, HEARTBEAT_RECORD_ONLY, states, type StepReturn } from '../states.js';
import { findStep, type Step, stepId } from '../step-types.js';
import { setNodeCleaningSteps } from '../steps.js';
import type { Task } from '../task.js';
import { cleaningErrorHandler, fastTrackAble, isFastTrack, nodePowerAction, wipeInternalInfoOnPowerOff } from '../utils.js';
import { DeployInterface, type HeartbeatExtra } from './base.js';
import { executeStep, getClient, getSteps, processNextStep, refreshSteps } from './agent-steps.js';

export * from './agent-steps.js';

/** The deploy interface for nodes whose work runs in our agent (AgentBaseMixin + HeartbeatMixin). */
export class AgentBaseDeploy extends DeployInterface {
  override async prepareCleaning(task: Task): Promise<StepReturn> {
    const result = await prepareInbandCleaning(task, task.conductor.conf.agent.manageAgentBoot);
    // Fast track: the running agent's steps now. If it is busy, Ironic goes on with no in-band
    // steps, so automated cleaning "succeeds" without erasing anything. Wait for its heartbeat
    // instead, which loads the steps before cleaning starts (see #heartbeatCleanWait).
    if (result === undefined && !(await refreshSteps(task, 'clean'))) return states.CLEANWAIT;
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
        // A deliberate difference from Ironic, which resumes and computes the steps even when
        // the agent answered 409 and no in-band step is known: that cleaning ran none of the
        // agent's steps (no erase) and ended available. Stay in CLEANWAIT until it answers.
        if (!(await refreshSteps(task, 'clean'))) return;
        task.resumeCleaning();
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
        if ((await task.driver.power.getPowerState(task)) === states.POWER_OFF) {
          // The agent powered the machine off itself, so node_power_action's wipe did not run.
          // Ironic leaves agent_url and agent_verify_ca here; with fast track a later rebuild
          // then takes the stale URL for a live agent and fails verifying the next ramdisk's
          // new certificate. The machine is off: wipe what a power-off wipes.
          wipeInternalInfoOnPowerOff(node);
          node.save();
          return undefined;
        }
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
