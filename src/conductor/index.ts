/**
 * The conductor module's public surface: what a driver author imports.
 *
 *   import { CustomAgentDeploy, deployStep, getAsyncStepReturnState, agentBase, agentClient } from 'ramdisk-agent/conductor';
 */
export * as agentBase from './drivers/agent-base.js';
export * as agentClient from './agent-client-module.js';
export { AgentClient, getCommandError, nodeAsDict, type AgentCommand } from './agent-client.js';
export {
  cleanStep,
  deployStep,
  verifyStep,
  validateArgsinfo,
  snakeCase,
  type CleanStepOptions,
  type DeployStepOptions,
} from './decorators.js';
export {
  BaseInterface,
  BIOSInterface,
  BootInterface,
  cacheBiosSettings,
  DeployInterface,
  ManagementInterface,
  PowerInterface,
  RAID_APPLY_CONFIGURATION_ARGSINFO,
  RAIDInterface,
  type ConductorHost,
  type Driver,
} from './drivers/base.js';
export { AgentBaseDeploy, registerPostStepHook } from './drivers/agent-base.js';
export { AgentDeploy, CustomAgentDeploy } from './drivers/agent.js';
export { AgentRAID } from './drivers/agent-raid.js';
export { FakeBoot, FakePower, NoBIOS, NoopManagement, NoRAID } from './drivers/fake.js';
export { QEMU_PROPERTIES, QemuPower } from './drivers/qemu-power.js';
export { InterfaceRegistry } from './drivers/registry.js';
export { getAsyncStepReturnState, rebootToFinishStep, setAsyncStepFlags } from './deploy-utils.js';
export * as deployUtils from './deploy-utils.js';
export { getNodeNestedField, popNodeNestedField, setNodeNestedField, type NodeData } from './node.js';
export { nodePeriodic, PeriodicStop, type NodePeriodicOptions } from './periodics.js';
export * as periodics from './periodics.js';
export { states, type ProvisionState, type PowerState, type StepReturn } from './states.js';
export type { ArgInfo, ArgsInfo, Step, UserStep } from './step-types.js';
export { Conductor, type ConductorOptions } from './conductor.js';
export { SqliteNodeStore } from './store/sqlite-store.js';
export type { NodeFilters, NodeStore } from './store/node-store.js';
export { TaskManager, type Task, type TaskHost, type Node } from './task.js';
export * from './errors.js';
export { notifyConductorResumeClean, notifyConductorResumeDeploy } from './notify.js';
