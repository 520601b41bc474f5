// Scenario 4 of the interop suite: a clean step fails inside our agent. A stock Ironic 21.4
// conductor must see the FAILED command, put the node in `clean failed` (maintenance,
// fault "clean failure") with our error details in last_error, and collect the agent's
// logs as it does from IPA after a failure.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { signatures } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

describeInterop('a clean step failing in the agent', (suite) => {
  it('ends in clean failed with our error details in last_error, after the steps before it ran', async () => {
    await timedScenario('4 clean step failing in the agent', async () => {
      const disk = suite.scratchDevice({ sizeMiB: 16, randomMiB: 2 });
      execFileSync('sgdisk', ['--new=1:2048:+4M', disk.path], { stdio: 'ignore' });
      // The shipped example manager's step, asked for more CPUs than this machine has.
      const impossible = cpus().length * 1024;

      const node = await suite.manageableNode('interop-failing-step');
      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'clean', {
        clean_steps: [
          { interface: 'deploy', step: 'erase_devices_metadata' },
          { interface: 'deploy', step: 'assert_hardware', args: { min_cpus: impossible } },
        ],
      });
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', { failOn: ['clean failed'], timeoutMs: 30_000, changes });
      const agent = await suite.startAgent({ allowDevices: [disk.path] });

      const failed = await suite.ironic.waitForProvisionState(node.uuid, 'clean failed', {
        failOn: ['manageable'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      const details = `Hardware does not match expectations: ${cpus().length} CPUs, expected at least ${impossible}`;
      expect(failed.last_error).toBe(`Clean step deploy.assert_hardware failed on node ${node.uuid}. ${details}`);
      expect(failed.maintenance).toBe(true);
      expect(failed.fault).toBe('clean failure');
      expect(failed.maintenance_reason).toBe(failed.last_error);
      expect(agent.stepsRun().map((s) => s.step)).toEqual(['erase_devices_metadata', 'assert_hardware']);
      expect(signatures(disk.path)).toEqual([]);
      // After a failed step the conductor asks the agent for its logs (log.collect_system_logs)
      // and stores them under [agent]deploy_logs_local_path.
      const logs = readdirSync(join(suite.ironic.dir, 'deploy-logs')).filter((name) => name.startsWith(node.uuid));
      expect(logs, 'ramdisk logs stored by the conductor').toHaveLength(1);
      expect(logs[0]).toMatch(/_cleaning_.*\.tar\.gz$/);
    });
  }, 240_000);
});
