/**
 * `conductor/periodics.py::node_periodic` (reference §9.2): a method run every `spacing`
 * seconds over the nodes that pass the database `filters` and the `predicate`, each inside a
 * task. Works on driver-interface methods `(task, manager, context)` — run only for nodes
 * whose driver uses that interface class — and, through `Conductor.addPeriodic`, on plain
 * functions `(task, context)`.
 */
import type { NodeField, NodeFilters } from './store/node-store.js';
import type { NodeData } from './node.js';

const NODE_PERIODIC = Symbol.for('ramdisk-agent.conductor.nodePeriodic');

export type PeriodicNode = Partial<NodeData> & Pick<NodeData, 'uuid' | 'driver'>;

export interface NodePeriodicOptions {
  /** Human words for logs and the lock's purpose: "checking my action status". */
  purpose: string;
  /** Seconds between runs; 0 or less disables the periodic. */
  spacing: number;
  enabled?: boolean;
  filters?: NodeFilters;
  /** Fields loaded for the predicate besides `uuid` and `driver` (e.g. `driverInternalInfo`). */
  predicateExtraFields?: readonly NodeField[];
  /** Checked before any lock or task is created; falsy skips the node. */
  predicate?: (node: PeriodicNode, manager?: unknown) => unknown;
  /** Stop after this many processed nodes per run. */
  limit?: number | (() => number);
  /** Shared (default) or exclusive task; call `task.upgradeLock()` before changing the node. */
  sharedTask?: boolean;
}

/** Raise inside a periodic to end the current run early (`periodics.Stop`). */
export class PeriodicStop extends Error {
  constructor() {
    super('periodic stopped');
    this.name = 'Stop';
  }
}

// biome-ignore lint: periodic bodies take (task, manager, context) or (task, context)
type PeriodicFn = (this: any, ...args: any[]) => unknown;

export interface NodePeriodicDecorator {
  <F extends PeriodicFn>(value: F, context: ClassMethodDecoratorContext): F;
  <F extends PeriodicFn>(fn: F): F;
}

export function nodePeriodic(options: NodePeriodicOptions): NodePeriodicDecorator {
  return ((value: PeriodicFn) => {
    Object.defineProperty(value, NODE_PERIODIC, { value: options, configurable: true });
    return value;
  }) as NodePeriodicDecorator;
}

export function periodicOptionsOf(fn: unknown): NodePeriodicOptions | undefined {
  return typeof fn === 'function' ? (fn as unknown as Record<symbol, NodePeriodicOptions | undefined>)[NODE_PERIODIC] : undefined;
}

/** Every `@nodePeriodic` method on `instance`'s class chain. */
export function periodicMethods(instance: object): Array<{ name: string; fn: PeriodicFn; options: NodePeriodicOptions }> {
  const found: Array<{ name: string; fn: PeriodicFn; options: NodePeriodicOptions }> = [];
  const seen = new Set<string>();
  for (let proto: object | null = instance; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (seen.has(name) || name === 'constructor') continue;
      seen.add(name);
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      const fn = descriptor?.value;
      const options = periodicOptionsOf(fn);
      if (options) found.push({ name, fn, options });
    }
  }
  return found;
}
