/**
 * `defineStep`: the one construct a plugin author uses to declare a clean, deploy or service
 * step. The args are a zod object; `argsinfo` for Ironic is derived from it and the same
 * schema validates the args the conductor sends, so the two can never disagree.
 */
import { z } from 'zod';
import type { StepContext } from './step-context.js';
import { InvalidCommandParamsError } from './errors.js';
import { formatZodError } from './zod-error.js';

export type StepPhase = 'clean' | 'deploy' | 'service';
export const STEP_PHASES: readonly StepPhase[] = ['clean', 'deploy', 'service'];

/**
 * The driver interfaces a stock Ironic conductor routes to the agent: `deploy` (AgentBaseMixin
 * and CustomAgentDeploy take clean, deploy and service steps from the agent's cache for it) and
 * `raid` (AgentRAID, when the node's raid_interface is `agent`). An in-band step listed under
 * `management` or `bios` is refused by the conductor ("step not found" for that interface),
 * so it is refused here, where the author learns it.
 */
export const AGENT_STEP_INTERFACES = ['deploy', 'raid'] as const;
export type StepInterface = (typeof AGENT_STEP_INTERFACES)[number];

/**
 * In-band deploy steps run while the agent is up: after Ironic's `deploy` (100) has booted it
 * and before `tear_down_agent` (40) powers it off (`ironic/drivers/modules/agent_base.py`).
 */
export const DEPLOY_PRIORITY_RANGE = { min: 41, max: 99 } as const;

export interface StepListing {
  /** 0 means "manual only"; automated cleaning runs steps with priority > 0, highest first. */
  priority: number;
  interface?: StepInterface;
  /** Ironic reboots the node after the step succeeds (the agent itself never reboots for it). */
  reboot_requested?: boolean;
  /** Clean and service steps only: the conductor may abort the step while it runs. */
  abortable?: boolean;
}

import type { ArgInfo } from '../shared/arg-info.js';

export type { ArgInfo };

// A zod object whose inferred output is the step's args.
export type StepArgsSchema = z.ZodObject<z.ZodRawShape>;

export interface StepDefinitionInit<S extends StepArgsSchema, R> {
  /** The wire name Ironic uses, snake_case (`erase_devices_metadata`). */
  name: string;
  description?: string;
  /** Where the step is offered, and with which priority. A phase left out is not offered. */
  clean?: StepListing;
  deploy?: StepListing;
  service?: StepListing;
  args?: S;
  run: (ctx: StepContext, args: z.output<S>) => Promise<R> | R;
}

const kStep = Symbol.for('ramdisk-agent.StepDefinition');

export interface StepDefinition<S extends StepArgsSchema = StepArgsSchema, R = unknown> {
  readonly [kStep]: true;
  readonly name: string;
  readonly description: string | undefined;
  readonly listings: Readonly<Partial<Record<StepPhase, Required<Pick<StepListing, 'priority'>> & StepListing>>>;
  readonly args: S | undefined;
  readonly argsinfo: Record<string, ArgInfo> | undefined;
  readonly run: (ctx: StepContext, args: z.output<S>) => Promise<R> | R;
}

function isStepDefinition(value: unknown): value is StepDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kStep] === true;
}

const STEP_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Step names a conductor acts on itself, whatever the interface, and never sends to the agent
 * (Ironic 22.1+, `conductor/steps.py` `use_reserved_step_handler`): an in-band step of that
 * name is listed but cannot run, and a `reboot` one power-cycles the node in its place. IPA
 * does not check; Ironic 21.4 (before reserved steps) would still run such a step.
 */
const CONDUCTOR_STEP_NAMES: readonly string[] = ['power_on', 'power_off', 'reboot', 'hold', 'wait'];

/** Where each step was defined (`file:line:column`), for load-time messages; not part of a step's shape. */
const definedAt = new WeakMap<object, string>();

export function defineStep<S extends StepArgsSchema = z.ZodObject<{}>, R = unknown>(
  init: StepDefinitionInit<S, R>,
): StepDefinition<S, R> {
  const where = callerLocation();
  const fail = (message: string): never => {
    throw new TypeError(`Step "${init.name}"${where ? ` (${where})` : ''}: ${message}`);
  };
  if (!STEP_NAME.test(init.name)) fail('the name must be snake_case (letters, digits, underscores)');
  if (CONDUCTOR_STEP_NAMES.includes(init.name)) {
    fail(
      `Ironic handles a step named "${init.name}" itself (${CONDUCTOR_STEP_NAMES.join(', ')}) and never sends it to the agent; choose another name (e.g. acme_${init.name})`,
    );
  }
  if (typeof init.run !== 'function') fail('run(ctx, args) is missing');
  const listings: Partial<Record<StepPhase, StepListing>> = {};
  for (const phase of STEP_PHASES) {
    const listing = init[phase];
    if (!listing) continue;
    if (!Number.isInteger(listing.priority) || listing.priority < 0) {
      fail(`${phase} priority must be a non-negative integer, got ${listing.priority}`);
    }
    const { min, max } = DEPLOY_PRIORITY_RANGE;
    if (phase === 'deploy' && listing.priority !== 0 && (listing.priority < min || listing.priority > max)) {
      fail(
        `deploy priority ${listing.priority} is outside ${min}-${max}: in-band deploy steps run between ${min} and ${max}, or use 0 (run only when requested)`,
      );
    }
    const iface = listing.interface ?? 'deploy';
    if (!(AGENT_STEP_INTERFACES as readonly string[]).includes(iface)) {
      fail(
        `interface "${iface}" is not one a conductor routes to the agent; use ${AGENT_STEP_INTERFACES.map((i) => `"${i}"`).join(' or ')}`,
      );
    }
    listings[phase] = { interface: 'deploy', reboot_requested: false, ...listing };
  }
  if (Object.keys(listings).length === 0) fail('it is offered in no phase: give it clean, deploy or service');
  const step = Object.freeze({
    [kStep]: true as const,
    name: init.name,
    description: init.description,
    listings: Object.freeze(listings) as StepDefinition<S, R>['listings'],
    args: init.args,
    argsinfo: init.args ? argsinfoFromSchema(init.args) : undefined,
    run: init.run,
  });
  if (where) definedAt.set(step, where);
  return step;
}

/**
 * `file:line:column` of the plugin code that called a `define*` function, so a load-time error
 * points at the author's line (not at this module).
 */
function callerLocation(): string | undefined {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  // Frame 0 is this function, 1 the define* function, 2 its caller.
  const frame = frames[2];
  const match = frame && /\(?((?:file:\/\/|\/)[^()]+?:\d+:\d+)\)?\s*$/.exec(frame);
  return match ? match[1]!.replace(/^file:\/\//, '') : undefined;
}

/**
 * A manager's step list (static or for one node): every entry made by `defineStep`, each
 * name once (IPA dispatches steps by name, so a second one could never run).
 */
export function assertStepList(owner: string, steps: readonly unknown[]): asserts steps is readonly StepDefinition[] {
  const seen = new Map<string, StepDefinition>();
  for (const step of steps) {
    if (!isStepDefinition(step)) throw new TypeError(`${owner}: every step must come from defineStep()`);
    const first = seen.get(step.name);
    if (first) {
      const places = [first, step].map((s) => definedAt.get(s) ?? 'unknown place');
      const where = places[0] === places[1] ? `the same definition at ${places[0]}, listed twice` : places.join(' and ');
      throw new TypeError(`${owner} declares step "${step.name}" twice (${where})`);
    }
    seen.set(step.name, step);
  }
}

/** `{arg: {description, required}}` as Ironic expects, from a zod object's shape. */
export function argsinfoFromSchema(schema: StepArgsSchema): Record<string, ArgInfo> {
  const info: Record<string, ArgInfo> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const type = field as z.ZodType;
    info[key] = { description: describedAs(type) ?? key, required: isRequired(type) };
  }
  return info;
}

/**
 * The description of an arg's schema, or of the schema it wraps: `.optional()`, `.default()`,
 * `.nullable()` and `.transform()` make a new schema without the inner one's `.describe()`,
 * and Ironic shows it to the operator ("missing these required arguments: url (…)").
 */
function describedAs(type: z.ZodType): string | undefined {
  let current: z.ZodType | undefined = type;
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    if (current.description !== undefined) return current.description;
    const def = current.def as { innerType?: z.ZodType; in?: z.ZodType };
    current = def.innerType ?? def.in;
  }
  return undefined;
}

/** An arg with a default or marked optional may be left out by the operator. */
function isRequired(type: z.ZodType): boolean {
  try {
    return !type.safeParse(undefined).success;
  } catch {
    // A transform written for a value (`v.trim()`) throws on undefined: it needs one.
    return true;
  }
}

/** The dict Ironic receives for one step in one phase (IPA's exact keys). */
export function stepToWire(step: StepDefinition, phase: StepPhase): Record<string, unknown> | undefined {
  const listing = step.listings[phase];
  if (!listing) return undefined;
  const wire: Record<string, unknown> = {
    step: step.name,
    priority: listing.priority,
    interface: listing.interface ?? 'deploy',
    reboot_requested: listing.reboot_requested ?? false,
  };
  if (phase !== 'deploy') wire.abortable = listing.abortable ?? false;
  if (step.argsinfo) wire.argsinfo = step.argsinfo;
  return wire;
}

/** A step's args as Ironic sent them, checked by its schema (unknown keys refused): IPA's 400. */
export function parseStepArgs(step: StepDefinition, args: Record<string, unknown>): Record<string, unknown> {
  const schema = step.args ?? z.object({});
  const result = schema.strict().safeParse(args);
  if (!result.success) {
    throw new InvalidCommandParamsError(`step ${step.name}: ${formatZodError(result.error)}`);
  }
  return result.data;
}
