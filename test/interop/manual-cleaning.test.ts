// Scenario 3 of the interop suite: manual cleaning by a stock Ironic 21.4 conductor with
// in-band steps and arguments. The conductor validates the operator's steps against the
// steps and argsinfo our agent reports: given the arguments, the steps run in the
// operator's order with them; without a required argument, cleaning fails with Ironic's
// "missing these required arguments" message and the disk is not touched.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readBytes, signatures } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

// Offers `write_marker`, an in-band clean step with two required arguments (device, text).
const MARKER_STEP = join(import.meta.dirname, 'fixtures', 'hardware-managers', 'marker-step');
const MiB = 1024 * 1024;

describeInterop('manual cleaning by a stock Ironic 21.4', (suite) => {
  it('erase_devices_metadata then a step with arguments run in the given order; the node returns to manageable', async () => {
    await timedScenario('3a manual cleaning with in-band steps and args', async () => {
      const disk = suite.scratchDevice({ sizeMiB: 24, randomMiB: 4 });
      execFileSync('sgdisk', ['--new=1:2048:+8M', disk.path], { stdio: 'ignore' });
      expect(signatures(disk.path).join(' ')).toMatch(/gpt/);
      const text = 'cleaned-by-ironic-21.4';

      const node = await suite.manageableNode('interop-manual-clean');
      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'clean', {
        clean_steps: [
          { interface: 'deploy', step: 'erase_devices_metadata' },
          { interface: 'deploy', step: 'write_marker', args: { device: disk.path, text } },
        ],
      });
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', {
        failOn: ['clean failed'],
        timeoutMs: 30_000,
        changes,
      });
      const agent = await suite.startAgent({ allowDevices: [disk.path], hardwareManagerPaths: [MARKER_STEP] });

      const done = await suite.ironic.waitForProvisionState(node.uuid, 'manageable', {
        failOn: ['clean failed'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      expect(done.last_error).toBeNull();
      expect(done.maintenance).toBe(false);
      const steps = agent.stepsRun();
      expect(steps.map((s) => s.step)).toEqual(['erase_devices_metadata', 'write_marker']);
      // The partition table is gone, the marker is there, and the data between was left
      // alone: metadata erasure, not a full erase.
      expect(signatures(disk.path)).toEqual([]);
      expect(readBytes(disk.path, 0, text.length + 1).toString('utf8')).toBe(`${text}\0`);
      expect(readBytes(disk.path, 2 * MiB, 4096).some((b) => b !== 0)).toBe(true);
    });
  }, 240_000);

  it('a step whose required argument is left out fails cleaning with Ironic\'s "missing these required arguments" message', async () => {
    await timedScenario('3b manual cleaning, required argument left out', async () => {
      const disk = suite.scratchDevice({ sizeMiB: 16, randomMiB: 1 });
      const before = readBytes(disk.path, 0, 1 * MiB);

      const node = await suite.manageableNode('interop-manual-clean-missing-arg');
      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'clean', {
        clean_steps: [{ interface: 'deploy', step: 'write_marker', args: { device: disk.path } }],
      });
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', {
        failOn: ['clean failed'],
        timeoutMs: 30_000,
        changes,
      });
      const agent = await suite.startAgent({ allowDevices: [disk.path], hardwareManagerPaths: [MARKER_STEP] });

      const failed = await suite.ironic.waitForProvisionState(node.uuid, 'clean failed', { timeoutMs: 120_000, changes });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      // Ironic checks the operator's step against the argsinfo our agent reported.
      expect(failed.last_error).toMatch(
        /Node failed to start the first cleaning step: .*write_marker.* is missing these required arguments: text \(Text written at offset 0\)/,
      );
      expect(failed.maintenance).toBe(false);
      expect(agent.stepsRun()).toEqual([]);
      expect(readBytes(disk.path, 0, 1 * MiB).equals(before)).toBe(true);
    });
  }, 240_000);
});
