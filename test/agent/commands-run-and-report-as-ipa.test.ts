// The command runner's contract, without HTTP: one command at a time, IPA's result
// wrapping, and failures recorded so the command list can always be served.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandRunner } from '../../src/agent/command-runner.js';
import { defineCommand, defineExtension } from '../../src/agent/command.js';
import type { AgentServices } from '../../src/agent/services.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { InvalidCommandParamsError } from '../../src/hardware/errors.js';

const services = { log: silentLogger } as unknown as AgentServices;

function makeRunner() {
  const events: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ext = defineExtension('demo', [
    defineCommand({ name: 'hello', mode: 'sync', params: z.object({}), run: () => 'world' }),
    defineCommand({ name: 'nothing', mode: 'sync', params: z.object({}), run: () => undefined }),
    defineCommand({ name: 'tuple', mode: 'sync', params: z.object({}), run: () => [1, 'two'] }),
    defineCommand({
      name: 'boom',
      mode: 'sync',
      params: z.object({}),
      run: () => {
        throw new RangeError('bad range');
      },
    }),
    defineCommand({
      name: 'reject_content',
      mode: 'sync',
      params: z.object({}),
      run: () => {
        throw new InvalidCommandParamsError('image_info is missing a checksum');
      },
    }),
    defineCommand({ name: 'bigint', mode: 'sync', params: z.object({}), run: () => ({ n: 10n }) }),
    defineCommand({
      name: 'slow',
      mode: 'async',
      params: z.object({}),
      run: async () => {
        await gate;
        return 'done';
      },
    }),
    defineCommand({
      // Like an erase: notices the abort at once, then needs a while to end (a tool exiting).
      name: 'writer',
      mode: 'async',
      params: z.object({}),
      run: async (_params, ctx) => {
        events.push('writer started');
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        events.push('writer aborted');
        await new Promise((resolve) => setTimeout(resolve, 200));
        events.push('writer ended');
        throw ctx.signal.reason;
      },
    }),
    defineCommand({
      name: 'write_next',
      mode: 'sync',
      params: z.object({}),
      run: () => {
        events.push('next command ran');
        return 'ok';
      },
    }),
    defineCommand({
      name: 'validated',
      mode: 'async',
      params: z.object({ size: z.number() }),
      validate: ({ size }) => {
        if (size > 10) throw new InvalidCommandParamsError('size too large');
      },
      run: () => null,
    }),
  ]);
  return { runner: new CommandRunner([ext], services), release, events };
}

describe('CommandRunner', () => {
  it('wraps results as IPA does: sync strings, async strings prefixed, undefined as null, tuples as lists', async () => {
    const { runner, release } = makeRunner();
    expect((await runner.execute('demo.hello', {})).toWire().command_result).toEqual({ result: 'world' });
    expect((await runner.execute('demo.nothing', {})).toWire().command_result).toBeNull();
    expect((await runner.execute('demo.tuple', {})).toWire().command_result).toEqual([1, 'two']);
    const slow = await runner.execute('demo.slow', {});
    release();
    await slow.whenDone();
    expect(slow.toWire().command_result).toEqual({ result: 'slow: done' });
  });

  it('a sync command that throws is stored FAILED (HTTP 200), its error in IPA shape', async () => {
    const { runner } = makeRunner();
    const result = await runner.execute('demo.boom', {});
    expect(result.toWire()).toMatchObject({
      command_status: 'FAILED',
      command_error: { type: 'CommandExecutionError', code: 500, message: 'Command execution failed', details: 'bad range' },
    });
    expect(runner.list()).toHaveLength(1);
  });

  it('a content error raised by a sync command propagates (HTTP 400) and is not stored', async () => {
    const { runner } = makeRunner();
    await expect(runner.execute('demo.reject_content', {})).rejects.toMatchObject({ code: 400 });
    expect(runner.list()).toHaveLength(0);
  });

  it('a validator runs before an async command starts', async () => {
    const { runner } = makeRunner();
    await expect(runner.execute('demo.validated', { size: 11 })).rejects.toMatchObject({ details: 'size too large' });
    expect(runner.list()).toHaveLength(0);
  });

  it('a result JSON cannot carry fails the command instead of breaking the list', async () => {
    const { runner } = makeRunner();
    const result = await runner.execute('demo.bigint', {});
    expect(result.status).toBe('FAILED');
    expect(result.error?.details).toMatch(/could not be serialised/);
    expect(() => JSON.parse(runner.listJSON())).not.toThrow();
  });

  it('busy while the last async command runs; emits async-command-finished when it ends', async () => {
    const { runner, release } = makeRunner();
    const finished: string[] = [];
    runner.on('async-command-finished', (r) => finished.push(r.name));
    const slow = await runner.execute('demo.slow', {});
    await expect(runner.execute('demo.hello', {})).rejects.toMatchObject({
      type: 'AgentIsBusy',
      code: 409,
      message: 'Agent is busy: executing command slow',
    });
    release();
    await slow.whenDone();
    expect(finished).toEqual(['slow']);
    expect((await runner.execute('demo.hello', {})).status).toBe('SUCCEEDED');
  });

  it('reset forgets every result (after a re-lookup)', async () => {
    const { runner } = makeRunner();
    await runner.execute('demo.hello', {});
    await runner.reset();
    expect(runner.listJSON()).toBe('{"commands":[]}');
  });

  it('reset aborts the running command; the next one starts only after it has ended', async () => {
    const { runner, events } = makeRunner();
    const finished: string[] = [];
    runner.on('async-command-finished', (r) => finished.push(r.name));
    await runner.execute('demo.writer', {});
    const reset = runner.reset('power cycle');
    // The conductor's next command arrives while the aborted one is still ending.
    const next = runner.execute('demo.write_next', {});
    await reset;
    expect((await next).status).toBe('SUCCEEDED');
    expect(events).toEqual(['writer started', 'writer aborted', 'writer ended', 'next command ran']);
    // The forgotten command's end is nobody's business: no early heartbeat for it.
    expect(finished).toEqual([]);
  });
});
