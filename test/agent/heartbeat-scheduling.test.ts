/**
 * The heartbeater's timing (reference §12.4), on a fake clock: the first heartbeat at once,
 * then heartbeat_timeout × U(0.3, 0.6) after a success, 5 × U(1, 2) s after a failure, and a
 * forced heartbeat no sooner than 5 s after the previous one.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeater } from '../../src/agent/heartbeat/heartbeater.js';
import { HeartbeatConflictError } from '../../src/agent/errors.js';
import { silentLogger } from '../../src/hardware/logger.js';

let beats: number[];
let failNext: unknown[];
let heartbeater: Heartbeater;

function make(random: number, timeout = 100): Heartbeater {
  return new Heartbeater({
    send: async () => {
      beats.push(Date.now());
      const failure = failNext.shift();
      if (failure) throw failure;
    },
    heartbeatTimeout: () => timeout,
    log: silentLogger,
    random: () => random,
  });
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  beats = [];
  failNext = [];
});

afterEach(async () => {
  await heartbeater?.stop();
  vi.useRealTimers();
});

describe('heartbeat scheduling', () => {
  it('beats at once, then every heartbeat_timeout × U(0.3, 0.6)', async () => {
    heartbeater = make(0); // lowest draw: 0.3 × 100 s = 30 s
    heartbeater.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(beats).toEqual([0]);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(beats).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(beats).toEqual([0, 30_000]);

    await heartbeater.stop();
    beats = [];
    heartbeater = make(1); // highest draw: 0.6 × 100 s = 60 s
    heartbeater.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(beats.map((t) => t - beats[0]!)).toEqual([0, 60_000]);
  });

  it('retries 5–10 s after a failure, a conflict included', async () => {
    heartbeater = make(0);
    failNext = [new Error('connection refused'), new HeartbeatConflictError('node locked')];
    heartbeater.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(beats).toEqual([0, 5_000, 10_000]);
    // Then back to the success interval.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(beats).toEqual([0, 5_000, 10_000, 40_000]);
  });

  it('a forced heartbeat waits until 5 s after the previous one, and several coalesce', async () => {
    heartbeater = make(0);
    heartbeater.start();
    await vi.advanceTimersByTimeAsync(1_000);
    heartbeater.force();
    heartbeater.force();
    await vi.advanceTimersByTimeAsync(3_999);
    expect(beats).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(beats).toEqual([0, 5_000]);
    // Long after the last one: at once.
    await vi.advanceTimersByTimeAsync(20_000);
    heartbeater.force();
    await vi.advanceTimersByTimeAsync(0);
    expect(beats).toEqual([0, 5_000, 25_000]);
  });

  it('sends nothing after stop()', async () => {
    heartbeater = make(0);
    heartbeater.start();
    await vi.advanceTimersByTimeAsync(0);
    await heartbeater.stop();
    heartbeater.force();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(beats).toEqual([0]);
  });
});
