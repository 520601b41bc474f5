/**
 * The query string of the command routes, parsed before anything runs. A parameter given
 * twice arrives as an array; it used to reach the handler and fail there with a 500 after
 * the command had started. IPA reads `agent_token` and `wait` (any value; only "true",
 * case-insensitive, waits) and ignores everything else.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpFault } from './fault.js';

const single = (name: string) =>
  z.string({ error: (issue) => (Array.isArray(issue.input) ? `${name} given more than once` : `${name} must be a string`) });

const commandQuerySchema = z.looseObject({
  agent_token: single('agent_token').optional(),
  wait: single('wait').optional(),
});

export type CommandQuery = z.infer<typeof commandQuerySchema>;

export function parseCommandQuery(request: FastifyRequest): CommandQuery {
  const parsed = commandQuerySchema.safeParse(request.query ?? {});
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues.map((issue) => issue.message).join('; ');
  throw new HttpFault(400, `Invalid query string: ${message}.`);
}

export function wantsWait(query: CommandQuery): boolean {
  return (query.wait ?? '').toLowerCase() === 'true';
}
