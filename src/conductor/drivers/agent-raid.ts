/**
 * `AgentRAID` (`raid_interface = agent`): software RAID built by the agent. Its steps forward
 * the current step to the agent; post-step hooks record the result on the node.
 */
import { cleanStep, deployStep } from '../decorators.js';
import type { StepReturn } from '../states.js';
import type { Step } from '../step-types.js';
import type { Task } from '../task.js';
import { executeStep, getSteps, registerPostStepHook } from './agent-base.js';
import { RAID_APPLY_CONFIGURATION_ARGSINFO, RAIDInterface, type RaidApplyArgs } from './base.js';

const CREATE_ARGSINFO = {
  create_root_volume: { description: 'This specifies whether to create the root volume. Defaults to `True`.', required: false },
  create_nonroot_volumes: {
    description: 'This specifies whether to create the non-root volumes. Defaults to `True`.',
    required: false,
  },
  delete_existing: {
    description:
      'Setting this to `True` indicates to delete existing RAID configuration prior to creating the new configuration. Default value is `False`.',
    required: false,
  },
};

export class AgentRAID extends RAIDInterface {
  override getCleanSteps(task: Task): Step[] {
    return getSteps(task, 'clean', { interface: 'raid' });
  }

  override getDeploySteps(task: Task): Step[] {
    return getSteps(task, 'deploy', { interface: 'raid' });
  }

  @cleanStep({ priority: 0, argsinfo: CREATE_ARGSINFO })
  async createConfiguration(task: Task): Promise<StepReturn> {
    if (!task.node.targetRaidConfig || Object.keys(task.node.targetRaidConfig).length === 0) return undefined;
    return executeStep(task, task.node.cleanStep as Step, 'clean');
  }

  @cleanStep({ priority: 0 })
  async deleteConfiguration(task: Task): Promise<StepReturn> {
    return executeStep(task, task.node.cleanStep as Step, 'clean');
  }

  @deployStep({ priority: 0, argsinfo: RAID_APPLY_CONFIGURATION_ARGSINFO })
  override async applyConfiguration(task: Task, args: RaidApplyArgs): Promise<StepReturn> {
    this.validateRaidConfig(task, args.raid_config);
    task.node.targetRaidConfig = args.raid_config;
    task.node.save();
    return executeStep(task, task.node.deployStep as Step, 'deploy');
  }
}

function createConfigurationFinal(task: Task, command: { command_result: Record<string, any> | null }): void {
  const result = command.command_result ?? {};
  const raid = (result.clean_result ?? result.deploy_result) as Record<string, unknown> | undefined;
  if (raid && typeof raid === 'object') task.node.raidConfig = raid;
  task.node.save();
}

function deleteConfigurationFinal(task: Task): void {
  task.node.raidConfig = {};
  delete task.node.properties.root_device;
  task.node.save();
}

registerPostStepHook('clean', 'raid', 'create_configuration', createConfigurationFinal);
registerPostStepHook('deploy', 'raid', 'apply_configuration', createConfigurationFinal);
registerPostStepHook('clean', 'raid', 'delete_configuration', deleteConfigurationFinal);
registerPostStepHook('deploy', 'raid', 'delete_configuration', deleteConfigurationFinal);
