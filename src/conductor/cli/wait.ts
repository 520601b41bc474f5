/** Follow a node until its provisioning ends (a stable or failed state). */
import type { ConductorApiClient } from './api-client.js';

const END_STATES = new Set(['available', 'manageable', 'active', 'clean failed', 'deploy failed', 'error', 'enroll']);

export async function waitForProvisionEnd(
  client: ConductorApiClient,
  node: string,
  options: {
    /** The state before the request: reaching another end state directly also counts as the end. */
    from?: string;
    onChange?: (state: string, node: Record<string, any>) => void;
    onPoll?: (node: Record<string, any>) => void | Promise<void>;
    intervalMs?: number;
    timeoutMs?: number;
  } = {},
): Promise<Record<string, any>> {
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  let last = '';
  // A request returns once its first transition is made; a manual clean may end in the state
  // it started from, so the end is an end state after a transient one (or another end state).
  let sawTransient = false;
  for (;;) {
    const current = await client.getNode(node);
    const state = current.provision_state as string;
    if (state !== last) {
      last = state;
      options.onChange?.(state, current);
    }
    await options.onPoll?.(current);
    if (!END_STATES.has(state)) sawTransient = true;
    if (END_STATES.has(state) && (sawTransient || (options.from !== undefined && state !== options.from))) return current;
    if (Date.now() > deadline) throw new Error(`node ${node} still "${state}" after waiting`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
