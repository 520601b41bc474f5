/**
 * `conductor/steps.py`: gather steps from the interfaces, order them, validate user steps
 * (reference §2). Messages are Ironic's.
 */
import { InvalidParameterValue } from './errors.js';
import { pythonRepr } from '../shared/python-repr.js';
import { states } from './states.js';
import { type Step, stepId, type UserStep } from './step-types.js';
import type { Task } from './task.js';

/** 2023.1 tie-breakers, also the allow-list of interfaces queried for steps. */
export const CLEANING_INTERFACE_PRIORITY: Readonly<Record<string, number>> = {
  power: 5,
  management: 4,
  deploy: 3,
  bios: 2,
  raid: 1,
};
// Ironic keeps two tables with the same content (either may change on its own).
export const DEPLOYING_INTERFACE_PRIORITY: Readonly<Record<string, number>> = { ...CLEANING_INTERFACE_PRIORITY };

type DriverInterfaceName = 'power' | 'management' | 'deploy' | 'bios' | 'raid' | 'boot';

/** Highest priority first; ties by interface priority; stable (`_sorted_steps`). */
export function sortSteps(steps: Step[], interfacePriority: Readonly<Record<string, number>>): Step[] {
  const key = (s: Step): [number, number] => {
    const ip = interfacePriority[s.interface];
    if (ip === undefined) throw new Error(`KeyError: '${s.interface}'`);
    return [s.priority, ip];
  };
  return steps
    .map((s, i) => ({ s, i, k: key(s) }))
    .sort((a, b) => b.k[0] - a.k[0] || b.k[1] - a.k[1] || a.i - b.i)
    .map((x) => x.s);
}

async function getSteps(
  task: Task,
  interfaces: Readonly<Record<string, number>>,
  method: 'getCleanSteps' | 'getDeploySteps',
  options: { enabled?: boolean; sort?: boolean; priorityOverrides?: Record<string, number> },
): Promise<Step[]> {
  const steps: Step[] = [];
  for (const name of Object.keys(interfaces)) {
    const iface = task.driver[name as DriverInterfaceName];
    if (!iface) continue;
    steps.push(...(await iface[method](task)).map((s) => ({ ...s })));
  }
  for (const step of steps) {
    const override = options.priorityOverrides?.[stepId(step)];
    if (override !== undefined && override !== null) step.priority = Number(override);
  }
  const result = options.enabled ? steps.filter((s) => s.priority !== 0) : steps;
  return options.sort ? sortSteps(result, interfaces) : result;
}

/** `_get_cleaning_steps`: with `[conductor]clean_step_priority_override` applied. */
export function getCleaningSteps(task: Task, options: { enabled?: boolean; sort?: boolean } = {}): Promise<Step[]> {
  return getSteps(task, CLEANING_INTERFACE_PRIORITY, 'getCleanSteps', {
    enabled: options.enabled ?? false,
    sort: options.sort ?? true,
    priorityOverrides: task.conductor.conf.conductor.cleanStepPriorityOverride,
  });
}

function getDeploymentSteps(task: Task, options: { enabled?: boolean; sort?: boolean } = {}): Promise<Step[]> {
  return getSteps(task, DEPLOYING_INTERFACE_PRIORITY, 'getDeploySteps', {
    enabled: options.enabled ?? false,
    sort: options.sort ?? true,
  });
}

/** `set_node_cleaning_steps`: automated = enabled driver steps; manual = the user's, validated. */
export async function setNodeCleaningSteps(task: Task, disableRamdisk = false): Promise<void> {
  const node = task.node;
  const dii = node.driverInternalInfo;
  let steps: Step[];
  if (node.targetProvisionState === states.MANAGEABLE) {
    steps = await validateUserCleanSteps(task, (dii.clean_steps as UserStep[]) ?? [], disableRamdisk);
  } else {
    steps = await getCleaningSteps(task, { enabled: true });
  }
  node.cleanStep = {};
  dii.clean_steps = steps;
  dii.clean_step_index = null;
  node.save();
}

function formatMissing(missing: Array<[string, string]>): string {
  return missing.map(([name, description]) => `${name} (${description})`).join(', ');
}

/** `_validate_user_step`: returns the error strings (empty when valid); mutates clean steps. */
function validateUserStep(
  task: Task,
  userStep: UserStep & Partial<Step>,
  driverStep: Step,
  type: 'clean' | 'deploy',
  disableRamdisk: boolean,
): string[] {
  const errors: string[] = [];
  const argsinfo = driverStep.argsinfo ?? {};
  const args = userStep.args ?? {};
  const name = stepId(userStep);
  const unexpected = Object.keys(args).filter((a) => !(a in argsinfo));
  if (unexpected.length > 0) {
    errors.push(`${type} step ${pyStepRef(userStep)} has these unexpected arguments: ${unexpected.join(', ')}`);
  }
  const userPriority = Number(userStep.priority ?? driverStep.priority);
  if (type === 'clean' || userPriority > 0) {
    const missing = Object.entries(argsinfo)
      .filter(([arg, info]) => info.required && !(arg in args))
      .map(([arg, info]) => [arg, info.description] as [string, string]);
    if (missing.length > 0)
      errors.push(`${type} step ${pyStepRef(userStep)} is missing these required arguments: ${formatMissing(missing)}`);
    if (disableRamdisk && (driverStep.requires_ramdisk ?? true))
      errors.push(`clean step ${pyStepRef(userStep)} requires booting a ramdisk`);
  }
  if (type === 'clean') {
    userStep.abortable = driverStep.abortable ?? false;
    userStep.priority = driverStep.priority;
  } else if (userPriority > 0 && name === 'deploy.deploy') {
    errors.push(
      `deploy step ${userStep.step} on interface ${userStep.interface} is a core step and cannot be overridden by user steps. It may be disabled by setting the priority to 0`,
    );
  }
  return errors;
}

/** Ironic prints the user's step dict (`{'interface': 'deploy', 'step': 'x'}`) in these messages. */
function pyStepRef(step: UserStep): string {
  return pythonRepr({ ...step });
}

async function validateUserSteps(
  task: Task,
  userSteps: Array<UserStep & Partial<Step>>,
  driverSteps: Step[],
  type: 'clean' | 'deploy',
  options: { errorPrefix?: string; skipMissing?: boolean; disableRamdisk?: boolean } = {},
): Promise<Array<UserStep & Partial<Step>>> {
  const byId = new Map(driverSteps.map((s) => [stepId(s), s]));
  const errors: string[] = [];
  const result: Array<UserStep & Partial<Step>> = [];
  for (const userStep of userSteps) {
    const driverStep = byId.get(stepId(userStep));
    if (!driverStep) {
      if (options.skipMissing) {
        task.conductor.log.info(
          { node: task.node.uuid },
          `${type} step ${stepId(userStep)} is not currently available for node ${task.node.uuid}, delaying its validation until in-band steps are loaded`,
        );
        continue;
      }
      errors.push(`node does not support this ${type} step: ${pyStepRef(userStep)}`);
      continue;
    }
    errors.push(...validateUserStep(task, userStep, driverStep, type, options.disableRamdisk ?? false));
    result.push(userStep);
  }
  if (type === 'deploy') {
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const s of userSteps) (seen.has(stepId(s)) ? duplicates : seen).add(stepId(s));
    if (duplicates.size > 0) {
      errors.push(
        `deploy steps from all deploy templates matching this node's instance traits cannot have the same interface and step. Duplicate deploy steps for ${[...duplicates].join(', ')}`,
      );
    }
  }
  if (errors.length > 0) throw new InvalidParameterValue(`${options.errorPrefix ?? ''}${errors.join('; ')}`);
  return result;
}

/** `_validate_user_clean_steps`: the user's order is kept; `abortable`/`priority` come from the driver. */
async function validateUserCleanSteps(task: Task, userSteps: UserStep[], disableRamdisk = false): Promise<Step[]> {
  const driverSteps = await getCleaningSteps(task, { enabled: false, sort: false });
  return (await validateUserSteps(task, userSteps as Array<UserStep & Partial<Step>>, driverSteps, 'clean', {
    disableRamdisk,
  })) as Step[];
}

/** `_get_all_deployment_steps`: driver steps with user steps overriding / adding. */
export async function getAllDeploymentSteps(task: Task, skipMissing = false): Promise<Step[]> {
  const dii = task.node.driverInternalInfo;
  const driverAll = await getDeploymentSteps(task, { enabled: false, sort: false });
  const userSteps = (await validateUserSteps(
    task,
    ((dii.user_deploy_steps as UserStep[]) ?? []).map((s) => ({ ...s })) as Array<UserStep & Partial<Step>>,
    driverAll,
    'deploy',
    {
      errorPrefix: 'Validation of deploy steps from "deploy steps" argument failed.',
      skipMissing,
    },
  )) as Step[];
  const userIds = new Set(userSteps.map(stepId));
  const driverSteps = (await getDeploymentSteps(task, { enabled: true, sort: false })).filter((s) => !userIds.has(stepId(s)));
  const driverById = new Map(driverAll.map((s) => [stepId(s), s]));
  const added = userSteps
    .filter((s) => Number(s.priority) > 0)
    .map((s) => ({ ...driverById.get(stepId(s)), ...s, priority: Number(s.priority) }) as Step);
  return sortSteps([...driverSteps, ...added], DEPLOYING_INTERFACE_PRIORITY);
}

/** `set_node_deployment_steps`. */
export async function setNodeDeploymentSteps(
  task: Task,
  options: { resetCurrent?: boolean; skipMissing?: boolean } = {},
): Promise<void> {
  const node = task.node;
  node.driverInternalInfo.deploy_steps = await getAllDeploymentSteps(task, options.skipMissing ?? false);
  if (options.resetCurrent ?? true) {
    node.deployStep = {};
    node.driverInternalInfo.deploy_step_index = null;
  }
  node.save();
}

/** `validate_deploy_steps`: once the agent's steps are known, recompute the list keeping the index. */
export async function validateDeploySteps(task: Task): Promise<void> {
  await setNodeDeploymentSteps(task, { resetCurrent: false });
  task.node.driverInternalInfo.steps_validated = true;
  task.node.save();
}
