// Scenario 1 of the interop suite: a stock Ironic 21.4 conductor runs automated cleaning
// through our agent (manage → provide): IPA's two automated steps, erase_devices_metadata
// (99) then erase_devices (10), run in the agent; the node ends `available` and the loop
// devices hold no signature and only zeros.
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { firstNonZeroByte, signatures } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

describeInterop('automated cleaning by a stock Ironic 21.4', (suite) => {
  it('manage → provide runs erase_devices_metadata then erase_devices in the agent; the node ends available, the disks blank', async () => {
    await timedScenario('1 automated cleaning (manage → provide)', async () => {
      const withFilesystem = suite.scratchDevice({ sizeMiB: 24, randomMiB: 4 });
      const withPartitions = suite.scratchDevice({ sizeMiB: 24, randomMiB: 4 });
      execFileSync('mkfs.ext4', ['-q', '-F', withFilesystem.path]);
      execFileSync('sgdisk', ['--new=1:2048:+8M', withPartitions.path], { stdio: 'ignore' });
      expect(signatures(withFilesystem.path).join(' ')).toMatch(/ext4/);
      expect(signatures(withPartitions.path).join(' ')).toMatch(/gpt/);

      const node = await suite.manageableNode('interop-automated-clean');
      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'provide');
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', {
        failOn: ['clean failed'],
        timeoutMs: 30_000,
        changes,
      });
      const agent = await suite.startAgent({ allowDevices: [withFilesystem.path, withPartitions.path] });

      const done = await suite.ironic.waitForProvisionState(node.uuid, 'available', {
        failOn: ['clean failed'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      expect(done.provision_state).toBe('available');
      expect(done.last_error).toBeNull();
      expect(done.maintenance).toBe(false);
      // The conductor took our steps and priorities, in IPA's order, and ran them in the agent.
      expect(agent.stepsRun().map((s) => `${s.phase}.${s.step}`)).toEqual([
        'clean.erase_devices_metadata',
        'clean.erase_devices',
      ]);
      for (const disk of [withFilesystem, withPartitions]) {
        expect(signatures(disk.path), disk.path).toEqual([]);
        expect(firstNonZeroByte(disk.path, disk.sizeBytes), `${disk.path}: first non-zero byte`).toBe(-1);
      }
    });
  }, 240_000);
});
