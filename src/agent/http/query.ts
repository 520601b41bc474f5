/**
 * The query string of the command routes, checked before anything runs. A parameter given
 * twice arrives as an array; it used to reach the handler and fail there with a 500 after
 * the command had started. IPA reads `agent_token` and `wait` (any value; only "true",
 * case-insensitive, waits) and ignores everything else. Checked by hand rather than with a
 * schema: it runs on every command request.
 */
import { HttpFault } from './fault.js';
import type { Query } from './router.js';

export interface CommandQuery {
  agent_token?: string | undefined;
  wait?: string | undefined;
}

const CHECKED = ['agent_token', 'wait'] as const;

export function parseCommandQuery(query: Query): CommandQuery {
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
