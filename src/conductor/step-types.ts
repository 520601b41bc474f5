/**
 * Step dictionaries as Ironic stores them (`driver_internal_info['clean_steps']`, the agent's
 * `get_clean_steps` answer, `node.clean_step`). Keys are Ironic's, snake_case.
 */
import type { ArgInfo, ArgsInfo } from '../shared/arg-info.js';

export type { ArgInfo, ArgsInfo };

export type StepType = 'clean' | 'deploy' | 'verify';

export interface Step {
  step: string;
  interface: string;
  priority: number;
  argsinfo?: ArgsInfo | null;
  abortable?: boolean;
  requires_ramdisk?: boolean;
  args?: Record<string, unknown>;
  reboot_requested?: boolean;
  /** Set by an abort request on a step that cannot be aborted: abort once it ends. */
  abort_after?: boolean;
  [extra: string]: unknown;
}

/** A step as a user asks for it (manual cleaning, `deploy_steps`). */
export interface UserStep {
  interface: string;
  step: string;
  args?: Record<string, unknown>;
  priority?: number | string;
}

/** `"<interface>.<step>"` (`conductor/steps.py::step_id`). */
export function stepId(step: Pick<Step, 'interface' | 'step'>): string {
  return `${step.interface}.${step.step}`;
}

/** Same interface and name; priority ignored (`is_equivalent`). */
export function isEquivalent(a: Pick<Step, 'interface' | 'step'>, b: Pick<Step, 'interface' | 'step'>): boolean {
  return a.interface === b.interface && a.step === b.step;
}

export function findStep<S extends Pick<Step, 'interface' | 'step'>>(
  steps: readonly S[],
  step: Pick<Step, 'interface' | 'step'>,
): S | undefined {
  return steps.find((s) => isEquivalent(s, step));
}
