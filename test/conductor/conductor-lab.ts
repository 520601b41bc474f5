/**
 * `conductorTest`: vitest's `test` with a `lab` that starts real conductors and real agents
 * linked to them (helpers.ts), and closes everything the test started once it ends, passed or
 * failed: newest first, so agents stop before the conductor they talk to and a scratch disk is
 * detached only after nothing writes to it any more.
 */
import { test } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { type RunningConductor, startConductor, startLinkedAgent } from './helpers.js';

export interface ConductorLab {
  /** A conductor (may be called again, e.g. to restart on the same database and port). */
  start(options?: Parameters<typeof startConductor>[0]): Promise<RunningConductor>;
  /** A real agent that looks itself up at the conductor started last. */
  agent(overrides?: Parameters<typeof startLinkedAgent>[1]): Promise<RunningAgent>;
  /** Run `close` when the test ends, in reverse order with the conductors and agents. */
  defer(close: () => unknown): void;
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

export const conductorTest = test.extend<{ lab: ConductorLab }>({
  lab: async ({}, use) => {
    const closers: Array<() => unknown> = [];
    let latest: RunningConductor | undefined;
    await use({
      async start(options) {
        const running = await startConductor(options);
        // A test may close its conductor itself (a restart); closing it again must do nothing.
        latest = { ...running, close: once(running.close) };
        closers.push(latest.close);
        return latest;
      },
      async agent(overrides) {
        if (!latest) throw new Error('lab.agent() needs a conductor: call lab.start() first');
        const agent = await startLinkedAgent(latest.url, overrides);
        closers.push(() => agent.close());
        return agent;
      },
      defer(close) {
        closers.push(close);
      },
    });
    const failures: unknown[] = [];
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'closing the lab failed');
  },
});
