// Scenario 5 of the interop suite: a clean step asks for a reboot (`reboot_requested`). A
// stock Ironic 21.4 conductor power-cycles the node (fake power: the "reboot" is simulated)
// and wipes the agent token; our agent's next heartbeat is refused, it looks up again, gets
// a new token and comes back with an empty command list, as a freshly booted IPA would, and
// the conductor continues cleaning with the next step.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { firstNonZeroByte, signatures } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

// Offers `apply_settings_with_reboot`: automated clean step, priority 50, reboot_requested.
const REBOOT_STEP = join(import.meta.dirname, 'fixtures', 'hardware-managers', 'reboot-step');

describeInterop('a reboot in the middle of cleaning', (suite) => {
  it('after the simulated reboot the agent looks up again with a new token and cleaning continues to available', async () => {
    await timedScenario('5 reboot during cleaning (token wiped, re-lookup)', async () => {
      const disk = suite.scratchDevice({ sizeMiB: 16, randomMiB: 4 });

      const node = await suite.manageableNode('interop-reboot');
      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'provide');
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', { failOn: ['clean failed'], timeoutMs: 30_000, changes });
      const agent = await suite.startAgent({ allowDevices: [disk.path], hardwareManagerPaths: [REBOOT_STEP] });

      const done = await suite.ironic.waitForProvisionState(node.uuid, 'available', {
        failOn: ['clean failed'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      expect(done.last_error).toBeNull();
      expect(done.maintenance).toBe(false);

      const steps = agent.stepsRun();
      expect(steps.map((s) => s.step)).toEqual(['erase_devices_metadata', 'apply_settings_with_reboot', 'erase_devices']);
      // The conductor rebooted the node after the step that asked for it (the first reboot
      // is the one that "boots the ramdisk" for cleaning)...
      const events = suite.ironic
        .logLines(
          new RegExp(
            `Executing \\{'step': 'apply_settings_with_reboot'|Successfully set node ${node.uuid} power state to power on by rebooting`,
          ),
        )
        .map((line) => (line.includes('apply_settings_with_reboot') ? 'step' : 'reboot'));
      expect(events).toEqual(['reboot', 'step', 'reboot']);
      // ...the agent's heartbeat with the old token was refused, it looked up again and took
      // a new token, and only then did the next step run.
      const rejected = await agent.waitFor((r) => /rejected our agent token/.test(r.msg), 1_000, 'token rejection');
      const lookups = agent.find('lookup succeeded');
      expect(lookups).toHaveLength(2);
      expect(agent.find('received a new agent token from the conductor')).toHaveLength(2);
      const rebootStep = steps[1]!;
      const nextStep = steps[2]!;
      expect(rejected.time).toBeGreaterThan(rebootStep.time);
      expect(lookups[1]!.time).toBeGreaterThanOrEqual(rejected.time);
      expect(nextStep.time).toBeGreaterThan(lookups[1]!.time);
      expect(suite.ironic.logLines(/Invalid or missing agent_token received/).length).toBeGreaterThan(0);

      expect(signatures(disk.path)).toEqual([]);
      expect(firstNonZeroByte(disk.path, disk.sizeBytes)).toBe(-1);
    });
  }, 240_000);
});
