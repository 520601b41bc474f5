/**
 * A command's context: the signal a sub-command of a flow sees is its flow's (aborting the
 * flow stops the sub-command's tools), and `signal` stays a getter on the class, never an
 * own property per context (an own accessor gave every command a hidden class of its own,
 * which kept each command's objects alive through the young-generation GCs: run-context.ts).
 */
import { describe, expect, it } from 'vitest';
import { LazyAbort } from '../../src/agent/lazy-abort.js';
import { RunContext } from '../../src/agent/run-context.js';
import type { AgentServices } from '../../src/agent/services.js';
import { silentLogger } from '../../src/shared/logger.js';

function contextWith(controller: LazyAbort): RunContext {
  const commands = {
    resolve: () => {
      throw new Error('not used');
    },
    invoke: () => Promise.resolve(null),
  };
  return new RunContext({} as AgentServices, silentLogger, { update: () => undefined }, commands, controller);
}

describe('RunContext', () => {
  it("gives a flow's sub-command the flow's signal, aborted with it", () => {
    const controller = new LazyAbort();
    const flow = contextWith(controller);
    const sub = flow.withLog(silentLogger.child({ subcommand: 'clean.execute_clean_step' }));
    expect(sub.signal).toBe(flow.signal);
    expect(sub.commands).toBe(flow.commands);
    expect(sub.progress).toBe(flow.progress);
    controller.abort(new Error('the conductor restarted this node'));
    expect(sub.signal.aborted).toBe(true);
    expect((sub.signal.reason as Error).message).toBe('the conductor restarted this node');
  });

  it('hands a sub-command made before the signal was first asked for the same signal', () => {
    const controller = new LazyAbort();
    const flow = contextWith(controller);
    const sub = flow.withLog(silentLogger);
    expect(flow.signal).toBe(sub.signal);
  });

  it('keeps signal on the prototype: contexts carry no accessor of their own', () => {
    const ctx = contextWith(new LazyAbort());
    expect(Object.getOwnPropertyDescriptor(ctx, 'signal')).toBeUndefined();
    expect(typeof Object.getOwnPropertyDescriptor(RunContext.prototype, 'signal')?.get).toBe('function');
  });
});
