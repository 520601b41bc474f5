/**
 * The API's step syntax (reference §2.6): what a user may send as `clean_steps` /
 * `deploy_steps`. Shape errors are `Invalid clean_steps: …` as in Ironic.
 */
import { z } from 'zod';
import { InvalidParameterValue } from './errors.js';
import { CLEANING_INTERFACE_PRIORITY, DEPLOYING_INTERFACE_PRIORITY } from './steps.js';
import type { UserStep } from './step-types.js';

const interfaceEnum = (map: Readonly<Record<string, number>>) => z.enum(Object.keys(map) as [string, ...string[]]);

const cleanStepSchema = z.strictObject({
  interface: interfaceEnum(CLEANING_INTERFACE_PRIORITY),
  step: z.string().min(1),
  args: z.record(z.string(), z.unknown()).optional(),
});

const deployStepSchema = z.strictObject({
  interface: interfaceEnum(DEPLOYING_INTERFACE_PRIORITY),
  step: z.string().min(1),
  args: z.record(z.string(), z.unknown()),
  priority: z.union([z.int().min(0), z.string().regex(/^\d+$/)]),
});

export function parseUserCleanSteps(value: unknown): UserStep[] {
  const parsed = z.array(cleanStepSchema).safeParse(value);
  if (!parsed.success) throw new InvalidParameterValue(`Invalid clean_steps: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function parseUserDeploySteps(value: unknown): UserStep[] {
  const parsed = z.array(deployStepSchema).safeParse(value);
  if (!parsed.success) throw new InvalidParameterValue(`Invalid deploy_steps: ${z.prettifyError(parsed.error)}`);
  return parsed.data.map((s) => ({ ...s, priority: Number(s.priority) }));
}
