// An aborted or timed-out tool ends with everything it started: real shells that fork,
// children that ignore SIGTERM, and a child that left the tool's process group and session
// as fio's job processes do (fio calls setsid() in each job).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { run, runTool, type ExecOptions } from '../../src/hardware/exec.js';

const started: number[] = [];

afterEach(() => {
  // On a failure (or the old exec.ts) the children live on: do not leave them to the machine.
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** A live (not zombie) process that is still the `sleep` the script started. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z' && stat.includes('(sleep)');
  } catch {
    return false;
  }
}

/**
 * Runs `script`, which prints the pids of the children to watch one per line, until `count`
 * were printed; then `interrupt` (abort or wait for the timeout). Resolves with the error and
 * the pids.
 */
async function runUntilStarted(
  script: string,
  count: number,
  options: ExecOptions & { killGraceMs?: number },
  interrupt: () => void = () => {},
): Promise<{ error: any; pids: number[]; elapsedMs: number }> {
  const pids: number[] = [];
  let startedAt = 0;
  const onLine = (line: string, from: string) => {
    if (from !== 'stdout' || !/^\d+$/.test(line)) return;
    pids.push(Number(line));
    started.push(Number(line));
    if (pids.length === count) {
      startedAt = Date.now();
      interrupt();
    }
  };
  const { killGraceMs, ...rest } = options;
  const call =
    killGraceMs === undefined
      ? run('sh', ['-c', script], { ...rest, onLine })
      : runTool('sh', ['-c', script], { ...rest, onLine }, killGraceMs);
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, pids, elapsedMs: Date.now() - startedAt };
}

// Two background sleeps with their output elsewhere (so that they do not keep the pipe open),
// each printed as it starts, then the shell waits.
const FORKING = 'sleep 300 >/dev/null 2>&1 & echo $!; sleep 300 >/dev/null 2>&1 & echo $!; wait';
// A child that ignores SIGTERM (ignored signals stay ignored across exec), printed once it does.
const IGNORES_TERM = `sh -c 'trap "" TERM; echo $$; exec sleep 300 >/dev/null 2>&1' & wait`;
// A child in its own session, as fio's jobs, that ignores SIGTERM too.
const LEFT_THE_GROUP = `setsid sh -c 'trap "" TERM; echo $$; exec sleep 300 >/dev/null 2>&1' & wait`;

describe('an interrupted tool leaves no process behind', () => {
  it('an abort ends the forked children with the shell', async () => {
    const controller = new AbortController();
    const { error, pids } = await runUntilStarted(FORKING, 2, { signal: controller.signal }, () => controller.abort());
    expect(error.reason).toBe('aborted');
    expect(pids).toHaveLength(2);
    // run() returns once the tree is gone: no waiting here.
    expect(pids.filter(alive)).toEqual([]);
  });

  it('a timeout ends the forked children with the shell', async () => {
    const { error, pids } = await runUntilStarted(FORKING, 2, { timeoutMs: 1_000 });
    expect(error.reason).toBe('timeout');
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('a child that ignores SIGTERM is SIGKILLed when the grace period ends', async () => {
    const controller = new AbortController();
    const { error, pids, elapsedMs } = await runUntilStarted(
      IGNORES_TERM,
      1,
      { signal: controller.signal, killGraceMs: 600 },
      () => controller.abort(),
    );
    expect(error.reason).toBe('aborted');
    expect(pids.filter(alive)).toEqual([]);
    // Not before the grace period: SIGTERM first, SIGKILL only after it.
    expect(elapsedMs).toBeGreaterThanOrEqual(550);
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it('the grace period is 5 s unless told otherwise', async () => {
    const controller = new AbortController();
    const { pids, elapsedMs } = await runUntilStarted(IGNORES_TERM, 1, { signal: controller.signal }, () => controller.abort());
    expect(pids.filter(alive)).toEqual([]);
    expect(elapsedMs).toBeGreaterThanOrEqual(4_900);
    expect(elapsedMs).toBeLessThan(8_000);
  }, 15_000);

  it('a child that left the process group (as fio jobs do) is found and killed as well', async () => {
    const { error, pids } = await runUntilStarted(LEFT_THE_GROUP, 1, { timeoutMs: 500, killGraceMs: 600 });
    expect(error.reason).toBe('timeout');
    expect(pids).toHaveLength(1);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('a normal exit is unchanged: output, exit code, and a child left running on purpose stays', async () => {
    const result = await run('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!; echo done >&2; exit 3'], { okExitCodes: [3] });
    const pid = Number(result.stdout.trim());
    started.push(pid);
    expect(result).toMatchObject({ exitCode: 3, stderr: 'done\n' });
    await sleep(200);
    expect(alive(pid)).toBe(true);
  });

  it('stdin is still given to the tool', async () => {
    expect((await run('sh', ['-c', 'cat'], { input: 'to stdin\n' })).stdout).toBe('to stdin\n');
    expect((await run('sh', ['-c', 'cat'])).stdout).toBe('');
  });
});
