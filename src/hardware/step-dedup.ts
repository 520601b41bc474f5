/**
 * IPA's `deduplicate_steps`: a step name several managers offer in one phase is listed once,
 * for the winner (higher support, then higher priority, then class name alphabetically). And
 * the one consequence of that rule an operator must hear about: a manager that wins
 * `erase_devices` or `erase_devices_metadata` at priority 0 over one that offers it for
 * automated cleaning turns the disk erasure of automated cleaning off.
 */
import type { HardwareManager } from './manager.js';
import { stepToWire, type StepDefinition, type StepPhase } from './step.js';

export type StepListingByManager = Record<string, Record<string, unknown>[]>;

/** What the de-duplication needs of an active manager. */
export interface RankedManager {
  manager: Pick<HardwareManager, 'name' | 'className'>;
  support: number;
  source: string;
}

interface Candidate<A extends RankedManager> {
  active: A;
  priority: number;
}

/** Whether `a` wins a step name over `b` (IPA's `_step_sort_key`). */
export function beats(a: Candidate<RankedManager>, b: Candidate<RankedManager>): boolean {
  if (a.active.support !== b.active.support) return a.active.support > b.active.support;
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.active.manager.className < b.active.manager.className;
}

/** Clean steps that erase the tenant's data: Ironic runs them only at a priority above 0. */
const ERASE_STEPS: ReadonlySet<string> = new Set(['erase_devices', 'erase_devices_metadata']);

/** An erase step whose winner offers it at priority 0 while a losing manager runs it automatically. */
export interface ShadowedErasure<A extends RankedManager = RankedManager> {
  step: string;
  winner: A;
  /** The managers that lost the name while offering it at a priority above 0, best first. */
  shadowed: { active: A; priority: number }[];
}

export interface DedupedSteps<A extends RankedManager> {
  listing: StepListingByManager;
  shadowedErasures: ShadowedErasure<A>[];
}

export function dedupSteps<A extends RankedManager>(
  phase: StepPhase,
  perManager: readonly { active: A; steps: readonly StepDefinition[] }[],
): DedupedSteps<A> {
  const offers = new Map<string, (Candidate<A> & { step: StepDefinition })[]>();
  for (const { active, steps } of perManager) {
    for (const step of steps) {
      const listing = step.listings[phase];
      if (!listing) continue;
      let list = offers.get(step.name);
      if (list === undefined) offers.set(step.name, (list = []));
      list.push({ active, step, priority: listing.priority });
    }
  }
  const listing: StepListingByManager = {};
  const shadowedErasures: ShadowedErasure<A>[] = [];
  for (const [name, candidates] of offers) {
    const ordered = [...candidates].sort((a, b) => (beats(a, b) ? -1 : beats(b, a) ? 1 : 0));
    const [winner, ...losers] = ordered;
    const wire = stepToWire(winner!.step, phase);
    if (wire) (listing[winner!.active.manager.className] ??= []).push(wire);
    if (phase !== 'clean' || !ERASE_STEPS.has(name) || winner!.priority !== 0) continue;
    const shadowed = losers.filter((c) => c.priority > 0).map(({ active, priority }) => ({ active, priority }));
    if (shadowed.length > 0) shadowedErasures.push({ step: name, winner: winner!.active, shadowed });
  }
  return { listing, shadowedErasures };
}

/**
 * What the operator is told, in the log and beside the listing. Ironic's two ways to run the
 * step anyway are named: `[deploy]erase_devices_priority` (or `..._metadata_priority`) and
 * `[conductor]clean_step_priority_override deploy.<step>:<priority>`.
 */
export function shadowedErasureMessage({ step, winner, shadowed }: ShadowedErasure): string {
  const losers = shadowed.map(({ active, priority }) => `${active.manager.name} (priority ${priority})`).join(', ');
  const option = step === 'erase_devices' ? 'erase_devices_priority' : 'erase_devices_metadata_priority';
  return (
    `clean step ${step} of hardware manager ${winner.manager.name} (${winner.source}) has priority 0 and ` +
    `replaces the one of ${losers}: automated cleaning will not erase disks with ${step} unless the conductor overrides ` +
    `the priority ([deploy]${option} or [conductor]clean_step_priority_override deploy.${step}:<priority>)`
  );
}
