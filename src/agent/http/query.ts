/**
 * The query string of the command routes, checked before anything runs. A parameter given
 * twice arrives as an array; it used to reach the handler and fail there with a 500 after
 * the command had started. IPA reads `agent_token` and `wait` (any value; only "true",
 * case-insensitive, waits) and ignores everything else. Checked by hand rather than with a
 * schema: it runs on every command request, and a parse copied the query each time.
 */
import type { FastifyRequest } from 'fastify';
import { HttpFault } from './fault.js';

export interface CommandQuery {
  agent_token?: string | undefined;
  wait?: string | undefined;
  [other: string]: unknown;
}

const CHECKED = ['agent_token', 'wait'] as const;

export function parseCommandQuery(request: FastifyRequest): CommandQuery {
  const query = (request.query ?? {}) as Record<string, unknown>;
  let problems: string[] | undefined;
  for (const name of CHECKED) {
    const value = query[name];
    if (value === undefined || typeof value === 'string') continue;
    (problems ??= []).push(Array.isArray(value) ? `${name} given more than once` : `${name} must be a string`);
  }
  if (problems) throw new HttpFault(400, `Invalid query string: ${problems.join('; ')}.`);
  return query as CommandQuery;
}

export function wantsWait(query: CommandQuery): boolean {
  return (query.wait ?? '').toLowerCase() === 'true';
}
