/**
 * A command's context: the signal a sub-command of a flow sees is its flow's (aborting the
 * flow stops the sub-command's tools), and `signal` stays a getter on the class, never an
 * own property per context (an own accessor gave every command a hidden class of its own,
 * which kept each command's objects alive through the young-generation GCs: run-context.ts).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandRunner } from '../../src/agent/command-runner.js';
import { defineCommand, defineExtension } from '../../src/agent/command.js';
import { flowExtension } from '../../src/agent/extensions/flow.js';
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

describe('a command run inside a flow', () => {
  it('is aborted with the flow: a reset reaches its signal', async () => {
    const seen: string[] = [];
    const demo = defineExtension('demo', [
      defineCommand({
        name: 'wait_for_abort',
        mode: 'sync',
        params: z.object({}),
        run: (_params, ctx) =>
          new Promise<null>((resolve) => {
            seen.push('started');
            ctx.signal.addEventListener('abort', () => {
              seen.push(`aborted: ${(ctx.signal.reason as Error).message}`);
              resolve(null);
            });
          }),
      }),
    ]);
    const runner = new CommandRunner([flowExtension, demo], { log: silentLogger } as unknown as AgentServices);
    const flow = await runner.execute('flow.start_flow', { flow: [{ 'demo.wait_for_abort': {} }] });
    while (seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await runner.reset('power cycle');
    await flow.whenDone();
    expect(seen).toEqual(['started', 'aborted: start_flow was aborted: power cycle']);
  });
});

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
