/**
 * A command's abort signal is made only when the command asks for it, yet behaves as if it
 * had existed all along: an abort (reset, shutdown) before it was asked for leaves it
 * aborted with that reason, and one after fires its listeners.
 */
import { describe, expect, it } from 'vitest';
import { LazyAbort } from '../../src/agent/lazy-abort.js';

describe('LazyAbort', () => {
  it('hands out a signal already aborted when the abort came first', () => {
    const lazy = new LazyAbort();
    const reason = new Error('the conductor restarted this node');
    lazy.abort(reason);
    lazy.abort(new Error('later reasons are ignored'));
    expect(lazy.aborted).toBe(true);
    expect(lazy.signal.aborted).toBe(true);
    expect(lazy.signal.reason).toBe(reason);
  });

  it('aborts a signal handed out earlier, once', () => {
    const lazy = new LazyAbort();
    const { signal } = lazy;
    expect(lazy.signal).toBe(signal);
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    lazy.abort(new Error('agent is shutting down'));
    lazy.abort(new Error('again'));
    expect(fired).toBe(1);
    expect((signal.reason as Error).message).toBe('agent is shutting down');
  });
});
