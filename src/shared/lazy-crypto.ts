/**
 * node:crypto on first use. Loading it costs a standalone agent ~6 ms of CPU before its
 * first answer (bench/startup), and nothing on that path needs it: command ids are made
 * when a command arrives and the token is hashed when one is configured or checked. The
 * build turns an import of a built-in into a require() at load time, hence this accessor.
 */
import { createRequire } from 'node:module';

let loaded: typeof import('node:crypto') | undefined;

export function nodeCrypto(): typeof import('node:crypto') {
  return (loaded ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}
