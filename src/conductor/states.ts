/**
 * Provision and power states (`ironic/common/states.py`, 2023.1) and the clean/deploy part
 * of the provision state machine (reference §8). Values are Ironic's strings: they appear
 * in the API, in `driver_internal_info` consumers and in operators' scripts.
 */

export const states = {
  ENROLL: 'enroll',
  VERIFYING: 'verifying',
  MANAGEABLE: 'manageable',
  AVAILABLE: 'available',
  ACTIVE: 'active',
  DEPLOYING: 'deploying',
  DEPLOYWAIT: 'wait call-back',
  DEPLOYFAIL: 'deploy failed',
  DELETING: 'deleting',
  DELETED: 'deleted',
  CLEANING: 'cleaning',
  CLEANWAIT: 'clean wait',
  CLEANFAIL: 'clean failed',
  ERROR: 'error',
  INSPECTING: 'inspecting',
  INSPECTWAIT: 'inspect wait',
  RESCUING: 'rescuing',
  RESCUEWAIT: 'rescue wait',
  POWER_ON: 'power on',
  POWER_OFF: 'power off',
  REBOOT: 'rebooting',
  SOFT_REBOOT: 'soft rebooting',
  SOFT_POWER_OFF: 'soft power off',
} as const;

export type ProvisionState =
  | typeof states.ENROLL
  | typeof states.VERIFYING
  | typeof states.MANAGEABLE
  | typeof states.AVAILABLE
  | typeof states.ACTIVE
  | typeof states.DEPLOYING
  | typeof states.DEPLOYWAIT
  | typeof states.DEPLOYFAIL
  | typeof states.DELETING
  | typeof states.DELETED
  | typeof states.CLEANING
  | typeof states.CLEANWAIT
  | typeof states.CLEANFAIL
  | typeof states.ERROR
  | typeof states.INSPECTING
  | typeof states.INSPECTWAIT
  | typeof states.RESCUING
  | typeof states.RESCUEWAIT;

export type PowerState =
  | typeof states.POWER_ON
  | typeof states.POWER_OFF
  | typeof states.REBOOT
  | typeof states.SOFT_REBOOT
  | typeof states.SOFT_POWER_OFF;

/** What a step may return: nothing (done) or a wait state (finishes asynchronously). */
export type StepReturn = void | undefined | null | typeof states.CLEANWAIT | typeof states.DEPLOYWAIT;

export type ProvisionEvent =
  'manage' | 'provide' | 'clean' | 'deploy' | 'rebuild' | 'wait' | 'resume' | 'done' | 'fail' | 'abort' | 'delete';

/** [from, event, to]: the transitions cleaning and deploying use (2023.1). */
const TRANSITIONS: ReadonlyArray<readonly [ProvisionState, ProvisionEvent, ProvisionState]> = [
  [states.ENROLL, 'manage', states.MANAGEABLE],
  [states.AVAILABLE, 'manage', states.MANAGEABLE],
  [states.CLEANFAIL, 'manage', states.MANAGEABLE],
  [states.MANAGEABLE, 'provide', states.CLEANING],
  [states.MANAGEABLE, 'clean', states.CLEANING],
  [states.DELETING, 'clean', states.CLEANING],
  [states.CLEANING, 'wait', states.CLEANWAIT],
  [states.CLEANWAIT, 'resume', states.CLEANING],
  [states.CLEANING, 'done', states.AVAILABLE],
  [states.CLEANING, 'manage', states.MANAGEABLE],
  [states.CLEANING, 'fail', states.CLEANFAIL],
  [states.CLEANWAIT, 'fail', states.CLEANFAIL],
  [states.CLEANWAIT, 'abort', states.CLEANFAIL],
  [states.AVAILABLE, 'deploy', states.DEPLOYING],
  [states.DEPLOYING, 'wait', states.DEPLOYWAIT],
  [states.DEPLOYWAIT, 'resume', states.DEPLOYING],
  [states.DEPLOYING, 'done', states.ACTIVE],
  [states.DEPLOYING, 'fail', states.DEPLOYFAIL],
  [states.DEPLOYWAIT, 'fail', states.DEPLOYFAIL],
  [states.DEPLOYFAIL, 'rebuild', states.DEPLOYING],
  [states.DEPLOYFAIL, 'deploy', states.DEPLOYING],
  [states.ACTIVE, 'rebuild', states.DEPLOYING],
  [states.ERROR, 'rebuild', states.DEPLOYING],
  [states.ACTIVE, 'delete', states.DELETING],
  [states.DEPLOYWAIT, 'delete', states.DELETING],
  [states.DEPLOYFAIL, 'delete', states.DELETING],
  [states.ERROR, 'delete', states.DELETING],
  [states.DELETING, 'fail', states.ERROR],
  [states.VERIFYING, 'fail', states.ENROLL],
];

const STABLE: ReadonlySet<string> = new Set([states.ENROLL, states.MANAGEABLE, states.AVAILABLE, states.ACTIVE, states.ERROR]);

/** Default targets of the transient states (manual cleaning overrides with MANAGEABLE). */
const DEFAULT_TARGET: Partial<Record<ProvisionState, ProvisionState>> = {
  [states.DEPLOYING]: states.ACTIVE,
  [states.DEPLOYWAIT]: states.ACTIVE,
  [states.DEPLOYFAIL]: states.ACTIVE,
  [states.CLEANING]: states.AVAILABLE,
  [states.CLEANWAIT]: states.AVAILABLE,
  [states.CLEANFAIL]: states.AVAILABLE,
  [states.DELETING]: states.AVAILABLE,
};

export function nextState(from: ProvisionState, event: ProvisionEvent): ProvisionState | undefined {
  return TRANSITIONS.find(([f, e]) => f === from && e === event)?.[2];
}

export function isStable(state: string): boolean {
  return STABLE.has(state);
}

export function defaultTarget(state: ProvisionState): ProvisionState | null {
  return DEFAULT_TARGET[state] ?? null;
}

/** Where the agent may look itself up (`LOOKUP_ALLOWED_STATES`, 2023.1). */
export const LOOKUP_ALLOWED_STATES: ReadonlySet<string> = new Set([
  states.DEPLOYING,
  states.DEPLOYWAIT,
  states.CLEANING,
  states.CLEANWAIT,
  states.INSPECTING,
  states.INSPECTWAIT,
  states.RESCUING,
  states.RESCUEWAIT,
]);
export const FASTTRACK_LOOKUP_ALLOWED_STATES: ReadonlySet<string> = new Set([
  ...LOOKUP_ALLOWED_STATES,
  states.ENROLL,
  states.MANAGEABLE,
  states.AVAILABLE,
]);
export const HEARTBEAT_ALLOWED: ReadonlySet<string> = new Set([
  states.DEPLOYWAIT,
  states.CLEANWAIT,
  states.RESCUEWAIT,
  states.DEPLOYING,
  states.CLEANING,
  states.RESCUING,
]);
export const FASTTRACK_HEARTBEAT_ALLOWED: ReadonlySet<string> = new Set([
  states.DEPLOYWAIT,
  states.CLEANWAIT,
  states.RESCUEWAIT,
  states.ENROLL,
  states.MANAGEABLE,
  states.AVAILABLE,
  states.DEPLOYING,
]);
export const HEARTBEAT_RECORD_ONLY: ReadonlySet<string> = new Set([
  states.ENROLL,
  states.MANAGEABLE,
  states.AVAILABLE,
  states.CLEANING,
  states.DEPLOYING,
  states.RESCUING,
]);
/** Failed on conductor restart: nobody is driving them any more (`STUCK_STATES_TREATED_AS_FAIL`). */
export const STUCK_STATES_TREATED_AS_FAIL: ReadonlySet<string> = new Set([
  states.DEPLOYING,
  states.CLEANING,
  states.VERIFYING,
  states.DELETING,
]);
export const FAILURE_STATES: ReadonlySet<string> = new Set([states.DEPLOYFAIL, states.CLEANFAIL]);
