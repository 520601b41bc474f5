/**
 * The burn-in knobs. IPA reads them only from `node.driver_info` (`agent_burnin_*`,
 * reference §10); here the same names are also accepted as step arguments, which win over
 * driver_info, so an operator can tune one manual cleaning run without editing the node.
 * Defaults are IPA's. Ironic's CLI stores driver_info values as strings ("60"), so numbers
 * and booleans are accepted in either form.
 */
import { z } from 'zod';
import { InvalidCommandParamsError, type IronicNode } from '../../src/hardware/index.js';

export const wholeNumber = z.union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/)]).transform((value, ctx) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) {
    ctx.addIssue({ code: 'custom', message: `must be a number ≥ 0, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return number;
});

export const integer = wholeNumber.refine(Number.isInteger, 'must be an integer');

const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/**
 * A run length in seconds. IPA hands the driver_info value to the tool as it is, and both
 * stress-ng (--timeout) and fio (--runtime) read a unit after the number, so an operator's
 * "30m" or "6h" works there; here it is read the same way (s, m, h, d: the units both tools
 * know) and the tool gets plain seconds, which the step also needs for its own time limit
 * and progress.
 */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const m = typeof value === 'number' ? undefined : /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(value);
  const seconds = typeof value === 'number' ? value : m ? Number(m[1]) * SECONDS_PER_UNIT[(m[2] || 's').toLowerCase()]! : NaN;
  if (!Number.isInteger(seconds) || seconds < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be whole seconds, or a whole number with s, m, h or d, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return seconds;
});

export const flag = z.union([z.boolean(), z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(text)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(text)) return false;
  ctx.addIssue({ code: 'custom', message: `must be a boolean, got ${JSON.stringify(value)}` });
  return z.NEVER;
});

/** A path the tool writes its log or JSON output to. */
export const outputFile = z.string().min(1);

/**
 * Each knob's value: the step argument, else `driver_info[key]`, else `undefined` (the
 * caller applies IPA's default). A driver_info value the schema refuses is an error naming
 * where it came from, never a silent default.
 */
export function resolveKnobs<S extends z.ZodObject<z.ZodRawShape>>(
  schema: S,
  args: Record<string, unknown>,
  node: IronicNode,
): z.output<S> {
  const info = (node.driver_info ?? {}) as Record<string, unknown>;
  const fromDriverInfo: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    if (args[key] === undefined && info[key] !== undefined && info[key] !== null) fromDriverInfo[key] = info[key];
  }
  const parsed = schema.safeParse(fromDriverInfo);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidCommandParamsError(`driver_info.${issue?.path.join('.')} ${issue?.message}`);
  }
  const merged: Record<string, unknown> = { ...(parsed.data as Record<string, unknown>) };
  for (const [key, value] of Object.entries(args)) if (value !== undefined) merged[key] = value;
  return merged as z.output<S>;
}

/**
 * A tool's time limit for the exec wrapper: Node cannot set a timer beyond 2^31 - 1 ms
 * (about 24.8 days) and fires a longer one at once, which would kill a long burn-in as it
 * starts. Longer runs are bounded by an abort or the agent's shutdown instead.
 */
export function toolTimeoutMs(ms: number): number {
  return Math.min(ms, 2 ** 31 - 1);
}
