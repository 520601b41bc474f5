/**
 * `cleanStep` / `deployStep` / `verifyStep` (`ironic/drivers/base.py`): mark a driver-interface
 * method as a step, validated at decoration time with Ironic's rules and messages
 * (reference §1.2–§1.3). Two forms:
 *
 *   class MyRAID extends RAIDInterface {
 *     @cleanStep({ priority: 0 })
 *     @deployStep({ priority: 0 })
 *     deleteConfiguration(task: Task) { ... }
 *   }
 *
 *   // plain function form (objects, plain JS): the same call, applied to a function
 *   MyRAID.prototype.deleteConfiguration = cleanStep({ priority: 0 })(function (task) { ... });
 *
 * The step name is the method name in snake_case (`deleteConfiguration` → `delete_configuration`,
 * Ironic's wire name); `name` overrides it. Decorated classes record their steps in
 * `Symbol.metadata` (copied, never mutated, when a subclass adds steps); plain functions carry
 * the same declarations on themselves. A subclass that overrides a step method without
 * re-decorating it removes the step, exactly as in Python.
 */
import { InvalidParameterValue, pyStr } from './errors.js';
import type { ArgsInfo, StepType } from './step-types.js';

// Node 20 has no Symbol.metadata. esbuild's decorator helper falls back to
// Symbol.for('Symbol.metadata'); using the same symbol keeps both in agreement whatever the
// module order.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

const STEP_DECLARATIONS = Symbol.for('ramdisk-agent.conductor.stepDeclarations');
const FUNCTION_STEPS = Symbol.for('ramdisk-agent.conductor.functionSteps');

export interface StepDeclaration {
  type: StepType;
  /** The wire name (`write_image`). */
  name: string;
  /** The property holding the method (`writeImage`). */
  method: string | undefined;
  priority: number;
  abortable?: boolean;
  argsinfo: ArgsInfo | null;
  requiresRamdisk?: boolean;
  /** The metadata object of the class that declared it (decorator form). */
  declaredIn?: object;
}

export interface CleanStepOptions<I extends ArgsInfo | null = ArgsInfo | null> {
  priority: number;
  abortable?: boolean;
  argsinfo?: I;
  requiresRamdisk?: boolean;
  name?: string;
}

export interface DeployStepOptions<I extends ArgsInfo | null = ArgsInfo | null> {
  priority: number;
  argsinfo?: I;
  name?: string;
}

export interface VerifyStepOptions {
  priority: number;
  name?: string;
}

/**
 * The args a step method may require: exactly the keys its `argsinfo` declares (values are
 * the method's business). So a method that needs an argument its argsinfo does not declare
 * fails to compile, where Ironic could only refuse it at run time.
 */
// biome-ignore lint: values are typed by the method itself
export type ArgsOf<I> = [I] extends [null | undefined] ? {} : { [K in keyof I]: any };

// biome-ignore lint: step methods take (task, args); `this` is the interface
type StepMethod<A = any> = (this: any, task: any, args: A) => unknown;

export interface StepDecorator<A = any> {
  <F extends StepMethod<A>>(value: F, context: ClassMethodDecoratorContext): F;
  /** Plain function form: marks `fn` itself and returns it. */
  <F extends StepMethod<A>>(fn: F): F;
}

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** `_validate_argsinfo`: Ironic's exact rules and messages, raised at decoration time. */
export function validateArgsinfo(argsinfo: unknown): void {
  if (!argsinfo || (typeof argsinfo === 'object' && Object.keys(argsinfo).length === 0)) return;
  if (typeof argsinfo !== 'object' || Array.isArray(argsinfo)) {
    throw new InvalidParameterValue(`"argsinfo" must be a dictionary instead of "${pyStr(argsinfo)}"`);
  }
  for (const [arg, info] of Object.entries(argsinfo as Record<string, unknown>)) {
    if (typeof info !== 'object' || info === null || Array.isArray(info)) {
      throw new InvalidParameterValue(`Argument "${arg}" must be a dictionary instead of "${pyStr(info)}".`);
    }
    let hasDescription = false;
    for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
      if (key === 'description') {
        if (typeof value !== 'string') {
          throw new InvalidParameterValue(
            `For argument "${arg}", "description" must be a string value instead of "${pyStr(value)}".`,
          );
        }
        hasDescription = true;
      } else if (key === 'required') {
        if (typeof value !== 'boolean') {
          throw new InvalidParameterValue(
            `For argument "${arg}", "required" must be a Boolean value instead of "${pyStr(value)}".`,
          );
        }
      } else {
        throw new InvalidParameterValue(
          `Argument "${arg}" has an invalid key named "${key}". It must be "description" or "required".`,
        );
      }
    }
    if (!hasDescription) throw new InvalidParameterValue(`Argument "${arg}" is missing a "description".`);
  }
}

function checkAbortable(abortable: unknown): void {
  if (typeof abortable !== 'boolean') {
    throw new InvalidParameterValue(`"abortable" must be a Boolean value instead of "${pyStr(abortable)}"`);
  }
}

function checkPriority(priority: unknown, nonNegative: boolean): void {
  if (nonNegative) {
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) {
      throw new InvalidParameterValue(`"priority" must be an integer value >= 0, instead of "${pyStr(priority)}"`);
    }
  } else if (typeof priority !== 'number' || !Number.isInteger(priority)) {
    throw new InvalidParameterValue(`"priority" must be an integer value instead of "${pyStr(priority)}"`);
  }
}

function makeDecorator(base: Omit<StepDeclaration, 'name' | 'method'>, explicitName: string | undefined): StepDecorator {
  return ((value: StepMethod, context?: ClassMethodDecoratorContext) => {
    if (context === undefined) {
      const own: StepDeclaration[] = Object.hasOwn(value, FUNCTION_STEPS)
        ? (value as unknown as Record<symbol, StepDeclaration[]>)[FUNCTION_STEPS]!
        : [];
      own.push({ ...base, name: explicitName ?? snakeCase(value.name), method: undefined });
      Object.defineProperty(value, FUNCTION_STEPS, { value: own, configurable: true });
      return value;
    }
    if (context.kind !== 'method' || context.static || context.private) {
      throw new TypeError('step decorators apply to public instance methods');
    }
    const method = String(context.name);
    const metadata = context.metadata as Record<symbol, StepDeclaration[] | undefined>;
    // Copy, don't mutate, what the parent class declared: the parent keeps its own list.
    const own = Object.hasOwn(metadata, STEP_DECLARATIONS)
      ? metadata[STEP_DECLARATIONS]!
      : (metadata[STEP_DECLARATIONS] = [...(metadata[STEP_DECLARATIONS] ?? [])]);
    own.push({ ...base, name: explicitName ?? snakeCase(method), method, declaredIn: metadata });
    return value;
  }) as StepDecorator;
}

/** `@clean_step(priority, abortable=False, argsinfo=None, requires_ramdisk=True)`. */
export function cleanStep<const I extends ArgsInfo | null = null>(options: CleanStepOptions<I>): StepDecorator<ArgsOf<I>> {
  const { priority, abortable = false, argsinfo = null, requiresRamdisk = true } = options;
  checkPriority(priority, false);
  checkAbortable(abortable);
  validateArgsinfo(argsinfo);
  return makeDecorator(
    { type: 'clean', priority, abortable, argsinfo: (argsinfo as ArgsInfo | null) ?? null, requiresRamdisk },
    options.name,
  );
}

/** `@deploy_step(priority, argsinfo=None)` (2023.1: no `abortable`). */
export function deployStep<const I extends ArgsInfo | null = null>(options: DeployStepOptions<I>): StepDecorator<ArgsOf<I>> {
  const { priority, argsinfo = null } = options;
  checkPriority(priority, true);
  validateArgsinfo(argsinfo);
  return makeDecorator({ type: 'deploy', priority, argsinfo: (argsinfo as ArgsInfo | null) ?? null }, options.name);
}

/** `@verify_step(priority)`: synchronous, no args. */
export function verifyStep(options: VerifyStepOptions): StepDecorator {
  checkPriority(options.priority, true);
  return makeDecorator({ type: 'verify', priority: options.priority, argsinfo: null }, options.name);
}

/** Every step declared on `instance`'s class chain that is still live (not overridden undecorated). */
export function declaredSteps(instance: object): StepDeclaration[] {
  const found: StepDeclaration[] = [];
  const ctor = instance.constructor as { [Symbol.metadata]?: Record<symbol, StepDeclaration[]> | null };
  const fromMetadata = ctor[Symbol.metadata]?.[STEP_DECLARATIONS] ?? [];
  for (const declaration of fromMetadata) {
    const owner = ownerOf(instance, declaration.method!);
    const ownerMetadata = (owner?.constructor as { [Symbol.metadata]?: object } | undefined)?.[Symbol.metadata];
    if (ownerMetadata === declaration.declaredIn) found.push(declaration);
  }
  // Plain-function form: scan members as Python's inspect.getmembers does.
  for (const name of memberNames(instance)) {
    // Read through descriptors: invoking getters (such as `cleanSteps`) here would recurse.
    const fn = methodValue(instance, name);
    if (typeof fn !== 'function' || !Object.hasOwn(fn, FUNCTION_STEPS)) continue;
    for (const declaration of (fn as unknown as Record<symbol, StepDeclaration[]>)[FUNCTION_STEPS]!) {
      found.push({
        ...declaration,
        method: name,
        name: declaration.name === snakeCase(fn.name) ? snakeCase(name) : declaration.name,
      });
    }
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function ownerOf(instance: object, property: string): object | undefined {
  for (let proto: object | null = instance; proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, property)) return proto;
  }
  return undefined;
}

function methodValue(instance: object, property: string): unknown {
  const owner = ownerOf(instance, property);
  return owner ? Object.getOwnPropertyDescriptor(owner, property)?.value : undefined;
}

function memberNames(instance: object): Set<string> {
  const names = new Set<string>();
  for (let proto: object | null = instance; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
  }
  return names;
}
