/**
 * SMART self-tests on several disks at once (IPA's `_run_smart_test`): start one on each
 * (`smartctl -t short|long`), then poll every disk until none is running. A disk whose
 * test could not start or did not complete without error fails its part; a drive that
 * reports no self-test status is noted and passes, as in IPA (which drops it from the poll).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readSmartctl, selfTestStatus, type SelfTestStatus, type StepContext } from '../../src/hardware/index.js';
import type { BurninProgress } from './progress.js';
import type { PartReport } from './report.js';

/**
 * IPA polls every 30 s; a short test takes about two minutes, so it is polled more often.
 * The first look comes sooner: a drive that refuses or ends the test at once says so then.
 */
const POLL_MS = { short: 10_000, long: 30_000 } as const;
const FIRST_POLL_MS = 2_000;

export async function runSelfTests(
  ctx: StepContext,
  devices: string[],
  kind: 'short' | 'long',
  parts: PartReport[],
  progress: BurninProgress,
): Promise<void> {
  const partOf = (device: string) => {
    let part = parts.find((p) => p.name === device);
    if (!part) parts.push((part = { name: device, passed: true, failures: [] }));
    return part;
  };
  const running = new Set<string>();
  for (const device of devices) {
    try {
      await ctx.exec('smartctl', ['-t', kind, device], { signal: ctx.signal, quiet: true });
      running.add(device);
      progress.part(`${device} self-test`, { state: 'running', kind });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const part = partOf(device);
      part.passed = false;
      part.failures.push(
        `SMART ${kind} self-test could not be started: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  for (let round = 0; running.size > 0; round++) {
    await sleep(round === 0 ? FIRST_POLL_MS : POLL_MS[kind], undefined, { signal: ctx.signal });
    for (const device of [...running]) {
      let status: SelfTestStatus;
      try {
        status = selfTestStatus(await readSmartctl(ctx.exec, device));
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        status = { state: 'unknown', text: `status unreadable: ${error instanceof Error ? error.message : String(error)}` };
      }
      progress.part(`${device} self-test`, { state: status.state, kind, status: status.text });
      if (status.state === 'running') continue;
      running.delete(device);
      const part = partOf(device);
      part.self_test = { kind, result: status.state, status: status.text };
      if (status.state === 'failed') {
        part.passed = false;
        part.failures.push(`SMART ${kind} self-test failed: ${status.text}`);
      }
    }
  }
}
