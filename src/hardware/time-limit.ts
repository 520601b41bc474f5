/**
 * A limit on plugin code the agent waits for (its import, support evaluation, `initialize()`,
 * `getSteps()`): a promise that never settles cannot hang the agent or the API.
 */
/**
 * `hardware_manager_start_timeout`'s default: how long a plugin's import, support evaluation,
 * `initialize()` or `getSteps()` may take.
 */
export const MANAGER_START_TIMEOUT_MS = 30_000;

export class TimeLimitExceeded extends Error {}

/** `work`'s outcome, or a TimeLimitExceeded after `ms`. */
export async function withTimeLimit<T>(work: () => Promise<T> | T, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeLimitExceeded(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(work), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
