/** Follow a node until its provisioning ends (a stable or failed state). */
import type { ConductorApiClient } from './api-client.js';

const END_STATES = new Set(['available', 'manageable', 'active', 'clean failed', 'deploy failed', 'error', 'enroll']);

export async function waitForProvisionEnd(
  client: ConductorApiClient,
  node: string,
  options: { onChange?: (state: string, node: Record<string, any>) => void; onPoll?: (node: Record<string, any>) => void | Promise<void>; intervalMs?: number; timeoutMs?: number } = {},
): Promise<Record<string, any>> {
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  let last = '';
  // The request itself is asynchronous: wait for the first transition out of the start state.
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
    if (sawTransient && END_STATES.has(state)) return current;
    if (!sawTransient && current.target_provision_state === null && END_STATES.has(state) && Date.now() > deadline - 3_599_000) return current;
    if (Date.now() > deadline) throw new Error(`node ${node} still "${state}" after waiting`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
