/**
 * The active hardware managers, in IPA's order (highest support first), and everything that
 * routes work to them: step listing with de-duplication, the version check, and dispatch.
 */
import {
  HardwareManagerMethodNotFound,
  HardwareManagerNotFound,
  IncompatibleHardwareMethodError,
  VersionMismatch,
  describeError,
} from './errors.js';
import type { HardwareManager } from './manager.js';
import type { PluginSource } from './loader.js';
import { stepsForNode } from './node-steps.js';
import { MANAGER_START_TIMEOUT_MS, TimeLimitExceeded, withTimeLimit } from './time-limit.js';
import { parseStepArgs, type StepDefinition, type StepPhase } from './step.js';
import { beats, dedupSteps, shadowedErasureMessage, type StepListingByManager } from './step-dedup.js';
import type {
  IronicNode,
  IronicPort,
  ManagerContext,
  ManagerMethodArgs,
  ManagerMethodName,
  ManagerMethodResult,
  ManagerSettings,
  StepContext,
} from './step-context.js';
import { MANAGER_SETTINGS_KEY, resolveManagerSettings } from './manager-settings.js';

type AnyMethod = (...args: unknown[]) => unknown;

export interface ActiveManager {
  manager: HardwareManager;
  support: number;
  source: string;
  /** Its own section of the config file, validated (`ctx.managerSettings` of everything it runs). */
  settings: ManagerSettings;
}

export type { StepListingByManager };

/** One `get_*_steps` answer: the steps, and every manager problem known at that moment. */
export interface NodeStepListing {
  steps: StepListingByManager;
  problems: readonly ManagerProblem[];
}

/** A manager that was loaded but is not active, and why (reported beside `hardware_manager_version`). */
export interface ManagerProblem {
  source: string;
  manager?: string;
  message: string;
}

export interface ActivateOptions {
  /** Problems found while loading, reported with the ones found here. */
  loadProblems?: readonly ManagerProblem[];
  startTimeoutMs?: number;
  /** The config file's `hardware_managers`: each manager's own settings, by manager name. */
  managerSettings?: Readonly<Record<string, unknown>>;
}

function reason(error: unknown): string {
  return error instanceof TimeLimitExceeded ? error.message : describeError(error);
}

/**
 * Whether dispatch passes the call on to the next manager: only on "not on this hardware", and
 * never once the command was aborted (the conductor power-cycled the node, the agent stops). A
 * manager that declines because its tool failed, IPA's idiom, sees its tool fail from an
 * abort too; passing the call on would start the next manager's (often destructive) work
 * after the abort. IPA has no abort (the node loses power), so it never meets this case.
 */
function fallsThrough(error: unknown, signal: AbortSignal | undefined): boolean {
  return IncompatibleHardwareMethodError.is(error) && signal?.aborted !== true;
}

/** The abort signal a method's context (its first argument) carries, if any. */
function signalOf(args: readonly unknown[]): AbortSignal | undefined {
  const ctx = args[0] as { signal?: unknown } | null | undefined;
  return ctx?.signal instanceof AbortSignal ? ctx.signal : undefined;
}

export class ManagerRegistry {
  readonly #active: readonly ActiveManager[];
  readonly #versions: Readonly<Record<string, string>>;
  // Static steps never change after activation, so without getSteps a phase's listing is computed once.
  readonly #listings = new Map<StepPhase, NodeStepListing>();
  // `${manager}/${step}` of each shadowed erase step already logged: one warning per agent.
  readonly #warnedShadows = new Set<string>();
  readonly #dynamic: boolean;
  readonly #timeoutMs: number;

  readonly #problems: readonly ManagerProblem[];
  readonly #context: ManagerContext;

  private constructor(active: ActiveManager[], problems: ManagerProblem[], context: ManagerContext, timeoutMs: number) {
    this.#active = Object.freeze(active);
    this.#dynamic = active.some(({ manager }) => manager.getSteps !== undefined);
    this.#timeoutMs = timeoutMs;
    this.#problems = Object.freeze(problems);
    this.#context = Object.freeze({ log: context.log, exec: context.exec, guard: context.guard });
    this.#versions = Object.freeze(Object.fromEntries(active.map(({ manager }) => [manager.name, manager.version])));
  }

  /**
   * Evaluate support, keep managers above NONE, order by support (stable: ties keep load
   * order) and initialise them in that order, as IPA's `get_managers` does. A manager whose
   * evaluation or `initialize()` fails or does not finish in time is skipped and reported
   * (`problems()`): one vendor's fault must not keep the agent from serving.
   */
  static async activate(
    plugins: readonly PluginSource[],
    ctx: ManagerContext,
    options: ActivateOptions = {},
  ): Promise<ManagerRegistry> {
    const timeoutMs = options.startTimeoutMs ?? MANAGER_START_TIMEOUT_MS;
    const problems: ManagerProblem[] = [...(options.loadProblems ?? [])];
    const skip = (manager: HardwareManager, source: string, message: string, error: unknown) => {
      problems.push({ source, manager: manager.name, message });
      ctx.log.error({ manager: manager.name, source, err: error }, `hardware manager skipped: ${message}`);
    };
    const sections = options.managerSettings ?? {};
    for (const name of Object.keys(sections)) {
      if (plugins.some(({ manager }) => manager.name === name)) continue;
      const message = `${MANAGER_SETTINGS_KEY}.${name}: no hardware manager of that name was loaded`;
      problems.push({ source: 'config file', message });
      ctx.log.error({ manager: name }, message);
    }
    const evaluated: ActiveManager[] = [];
    for (const { manager, source } of plugins) {
      let settings: ManagerSettings;
      try {
        settings = resolveManagerSettings(manager, sections[manager.name]);
      } catch (error) {
        skip(manager, source, (error as Error).message, error);
        continue;
      }
      const own = { ...ctx, managerSettings: settings };
      let support: unknown;
      try {
        support = await withTimeLimit(() => manager.evaluateHardwareSupport(own), timeoutMs, 'evaluateHardwareSupport()');
      } catch (error) {
        skip(manager, source, `evaluateHardwareSupport() failed: ${reason(error)}`, error);
        continue;
      }
      // A JavaScript plugin's missing `return` (undefined) or a `true` was coerced by Number():
      // the first dropped the manager with nothing but an info line, the second made it a
      // GENERIC manager. (IPA compares `support > 0`: None raises TypeError, True counts as 1.)
      if (typeof support !== 'number' || !Number.isFinite(support)) {
        const answer = typeof support === 'string' ? JSON.stringify(support) : String(support);
        const message = `evaluateHardwareSupport() returned ${answer}, not a support level (a number, HardwareSupport.NONE = 0 for "not this machine")`;
        skip(manager, source, message, undefined);
        continue;
      }
      ctx.log.info({ manager: manager.name, version: manager.version, support, source }, 'hardware manager evaluated');
      if (support > 0) evaluated.push({ manager, support, source, settings });
    }
    evaluated.sort((a, b) => b.support - a.support);
    const initialised: ActiveManager[] = [];
    for (const active of evaluated) {
      const { manager, source, settings } = active;
      try {
        const own = { ...ctx, managerSettings: settings };
        if (manager.initialize) await withTimeLimit(() => manager.initialize!(own), timeoutMs, 'initialize()');
        initialised.push(active);
      } catch (error) {
        skip(manager, source, `initialize() failed: ${reason(error)}`, error);
      }
    }
    if (initialised.length === 0) throw new HardwareManagerNotFound();
    const registry = new ManagerRegistry(initialised, problems, ctx, timeoutMs);
    // Static steps are known now: an erase step turned off by another manager is logged at
    // start-up, where the operator watches the console, not only at the first cleaning.
    if (!registry.#dynamic) await registry.listSteps('clean');
    return registry;
  }

  /**
   * The context managers were activated with (logger, exec, device guard; nothing of the
   * agent's configuration): what the agent passes to the methods it calls outside a step.
   */
  get context(): ManagerContext {
    return this.#context;
  }

  /** Managers that were found but are not active, and why. */
  problems(): readonly ManagerProblem[] {
    return this.#problems;
  }

  get managers(): readonly ActiveManager[] {
    return this.#active;
  }

  /**
   * `hardware_manager_version`: `{name: version}` of every active manager. Frozen and the same
   * object until the managers change, so a result carrying it shares its serialised bytes.
   */
  versions(): Readonly<Record<string, string>> {
    return this.#versions;
  }

  /** IPA's `check_versions`: nothing sent (first run) passes; otherwise exact equality. */
  checkVersions(provided: unknown): void {
    if (provided === null || provided === undefined) return;
    const current = this.#versions;
    const same =
      typeof provided === 'object' &&
      !Array.isArray(provided) &&
      Object.keys(provided).length === Object.keys(current).length &&
      Object.entries(provided as Record<string, unknown>).every(([k, v]) => current[k] === v);
    if (!same) throw new VersionMismatch({ ...current }, provided);
  }

  /**
   * Steps of one phase for a node, grouped by manager class name. A step name offered by
   * several managers is listed once, for the winner: higher support, then higher priority,
   * then class name alphabetically (IPA's `deduplicate_steps`); `dispatchStep` runs that one.
   * A manager whose `getSteps` fails is left out of this listing and reported with the other
   * problems.
   */
  async listSteps(phase: StepPhase, node: IronicNode = {}, ports: readonly IronicPort[] = []): Promise<NodeStepListing> {
    if (!this.#dynamic) {
      let listing = this.#listings.get(phase);
      if (listing === undefined) {
        const perManager = this.#active.map((active) => ({ active, steps: active.manager.steps }));
        listing = deepFreeze(this.#listing(phase, perManager, [...this.#problems]));
        this.#listings.set(phase, listing);
      }
      return listing;
    }
    const problems = [...this.#problems];
    const perManager = await Promise.all(
      this.#active.map(async (active) => {
        try {
          return { active, steps: await this.#stepsOf(active, node, ports) };
        } catch (error) {
          problems.push({ source: active.source, manager: active.manager.name, message: `getSteps() failed: ${reason(error)}` });
          return { active, steps: [] };
        }
      }),
    );
    return this.#listing(phase, perManager, problems);
  }

  /**
   * The de-duplicated listing; an erase step left at priority 0 over a manager that runs it
   * in automated cleaning is logged (once per agent) and reported with the problems, since
   * the node would otherwise go back to available with the last tenant's data on its disks.
   */
  #listing(
    phase: StepPhase,
    perManager: readonly { active: ActiveManager; steps: readonly StepDefinition[] }[],
    problems: ManagerProblem[],
  ): NodeStepListing {
    const { listing, shadowedErasures } = dedupSteps(phase, perManager);
    for (const shadow of shadowedErasures) {
      const { winner, step } = shadow;
      const message = shadowedErasureMessage(shadow);
      problems.push({ source: winner.source, manager: winner.manager.name, message });
      const key = `${winner.manager.name}/${step}`;
      if (this.#warnedShadows.has(key)) continue;
      this.#warnedShadows.add(key);
      this.#context.log.warn({ manager: winner.manager.name, source: winner.source, step }, message);
    }
    return { steps: listing, problems };
  }

  /** `manager`'s steps for this node; logs and rethrows a `getSteps` failure. */
  async #stepsOf(active: ActiveManager, node: IronicNode, ports: readonly IronicPort[]): Promise<readonly StepDefinition[]> {
    try {
      const ctx = { ...this.#context, managerSettings: active.settings };
      return await stepsForNode(active.manager, ctx, node, ports, this.#timeoutMs);
    } catch (error) {
      this.#context.log.error(
        { manager: active.manager.name, source: active.source, err: error },
        `getSteps() failed; this manager's steps are left out: ${reason(error)}`,
      );
      throw error;
    }
  }

  /**
   * Run a step by name for `ctx.phase`: among the managers that offer it in that phase for this
   * node, in the listing's order (support, then priority, then class name: the first is the
   * one `listSteps` listed), the first runs it; `IncompatibleHardwareMethodError` falls
   * through to the next. A manager whose `getSteps` fails is left out, as in the listing.
   * Args are validated by the running step's schema.
   *
   * Where we differ from IPA: its `dispatch_to_managers(step)` calls the method of the
   * highest-support manager that has one by that name, whichever phase listed it and, at
   * equal support, in load order. Here a step is declared per phase, so it runs only in the
   * phases its author offered it for, and the step that runs is the one Ironic cached, whose
   * argsinfo it checked the operator's args against: a same-named step a higher-support
   * manager offers only for cleaning (say, a destructive variant) never runs in servicing.
   * Ironic only executes steps the agent listed for that phase, so it sees no difference.
   */
  async dispatchStep(name: string, ctx: StepContext, args: Record<string, unknown>): Promise<unknown> {
    const candidates = await Promise.all(
      this.#active.map(async (active) => {
        const steps = await this.#stepsOf(active, ctx.node, ctx.ports).catch(() => []);
        const step = steps.find((s) => s.name === name && s.listings[ctx.phase] !== undefined);
        return step && { active, step, priority: step.listings[ctx.phase]!.priority };
      }),
    );
    const ordered = candidates.filter((c) => c !== undefined).sort((a, b) => (beats(a, b) ? -1 : beats(b, a) ? 1 : 0));
    for (const { active, step } of ordered) {
      try {
        return await step.run({ ...ctx, managerSettings: active.settings }, parseStepArgs(step, args));
      } catch (error) {
        // Only "not on this hardware" falls through, and not after an abort; any other failure
        // (including a configuration error) is the step's outcome.
        if (fallsThrough(error, ctx.signal)) continue;
        throw error;
      }
    }
    throw new HardwareManagerMethodNotFound(name);
  }

  /**
   * IPA's `dispatch_to_managers` for the well-known methods (e.g. `erase_block_device`): the
   * arguments are the method's own, context first.
   */
  async dispatchToManagers<K extends ManagerMethodName>(
    method: K,
    ...args: ManagerMethodArgs<K>
  ): Promise<ManagerMethodResult<K>> {
    return (await this.#walk(method, signalOf(args), (active) => {
      const fn = active.manager.methods[method] as AnyMethod | undefined;
      return fn ? async () => fn(...withOwnSettings(args, active)) : undefined;
    })) as ManagerMethodResult<K>;
  }

  /** IPA's `dispatch_to_all_managers`: `{className: result}` of every manager that has the method. */
  async dispatchToAllManagers<K extends ManagerMethodName>(
    method: K,
    ...args: ManagerMethodArgs<K>
  ): Promise<Record<string, ManagerMethodResult<K>>> {
    const results: Record<string, ManagerMethodResult<K>> = {};
    for (const active of this.#active) {
      const fn = active.manager.methods[method] as AnyMethod | undefined;
      if (!fn) continue;
      try {
        results[active.manager.className] = (await fn(...withOwnSettings(args, active))) as ManagerMethodResult<K>;
      } catch (error) {
        if (fallsThrough(error, signalOf(args))) continue;
        throw error;
      }
    }
    if (Object.keys(results).length === 0) throw new HardwareManagerMethodNotFound(method);
    return results;
  }

  async #walk(
    method: string,
    signal: AbortSignal | undefined,
    pick: (active: ActiveManager) => (() => Promise<unknown>) | undefined,
  ): Promise<unknown> {
    for (const active of this.#active) {
      const call = pick(active);
      if (!call) continue;
      try {
        return await call();
      } catch (error) {
        // Only "not on this hardware" falls through, and not after an abort; any other failure
        // (including a configuration error) is the step's outcome.
        if (fallsThrough(error, signal)) continue;
        throw error;
      }
    }
    throw new HardwareManagerMethodNotFound(method);
  }
}

/**
 * A method's arguments with its context (always the first) carrying the called manager's
 * own settings, not the caller's: a step dispatching to another manager passes its own ctx.
 */
function withOwnSettings(args: readonly unknown[], active: ActiveManager): unknown[] {
  const [ctx, ...rest] = args;
  if (typeof ctx !== 'object' || ctx === null) return [...args];
  return [{ ...ctx, managerSettings: active.settings }, ...rest];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
