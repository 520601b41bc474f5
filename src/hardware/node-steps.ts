/**
 * A manager's steps for one node: its static `steps` and, when it has `getSteps`, those it
 * returns for this node and its ports (IPA's `get_clean_steps(node, ports)` and siblings),
 * held to the rules the static ones meet at load time: made by `defineStep` (so deploy
 * priority 41–99 or 0 and an interface the conductor routes to the agent), unique names.
 */
import { IncompatibleHardwareMethodError } from './errors.js';
import type { HardwareManager } from './manager.js';
import { assertStepList, type StepDefinition } from './step.js';
import type { IronicNode, IronicPort, ManagerContext } from './step-context.js';
import { withTimeLimit } from './time-limit.js';

export async function stepsForNode(
  manager: HardwareManager,
  ctx: ManagerContext,
  node: IronicNode,
  ports: readonly IronicPort[],
  timeoutMs: number,
): Promise<readonly StepDefinition[]> {
  if (!manager.getSteps) return manager.steps;
  const getSteps = manager.getSteps.bind(manager);
  let dynamic: unknown;
  try {
    dynamic = await withTimeLimit(() => getSteps(ctx, node, ports), timeoutMs, 'getSteps()');
  } catch (error) {
    // IPA's "nothing of mine for this node" (dispatch_to_all_managers skips a manager whose
    // get_*_steps declines so): no per-node steps, its static ones stay; not a failure.
    if (!IncompatibleHardwareMethodError.is(error)) throw error;
    ctx.log.debug({ manager: manager.name, reason: (error as Error).message }, 'getSteps() declined this node');
    return manager.steps;
  }
  if (!Array.isArray(dynamic)) {
    throw new TypeError(`getSteps() returned ${dynamic === null ? 'null' : typeof dynamic}, not a list of steps`);
  }
  const all: unknown[] = [...manager.steps, ...dynamic];
  assertStepList(`Hardware manager "${manager.name}" (getSteps())`, all);
  return all;
}
