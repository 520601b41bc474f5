// Software RAID by a stock Ironic 21.4 conductor (raid_interface: agent): the operator sets
// target_raid_config as `baremetal node set --target-raid-config` does (PUT
// /v1/nodes/{uuid}/states/raid), then runs manual cleaning with delete_configuration and
// create_configuration. This machine's kernel has no md driver, so the successful build is
// in the booted-ramdisk scenarios (test/e2e); here the failing create: a RAID-5 over two
// disks must end in `clean failed` with our message in last_error and nothing written.
import { expect, it } from 'vitest';
import { readBytes, signatures } from './harness/device-bytes.js';
import { describeChanges, type StateChange } from './harness/ironic-conductor.js';
import { describeInterop, timedScenario } from './harness/interop-suite.js';

const MiB = 1024 * 1024;

describeInterop('software RAID through a stock Ironic 21.4', (suite) => {
  it('a RAID-5 over two disks fails cleaning with our message in last_error and leaves the disks as they were', async () => {
    await timedScenario('software RAID: failing create_configuration', async () => {
      const disks = [suite.scratchDevice({ sizeMiB: 64, randomMiB: 2 }), suite.scratchDevice({ sizeMiB: 64, randomMiB: 2 })];
      const before = disks.map((d) => [readBytes(d.path, 0, 2 * MiB), readBytes(d.path, 62 * MiB, 2 * MiB)]);
      const node = await suite.manageableNode('interop-raid-5-on-two-disks');
      const config = {
        logical_disks: [
          { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true },
          { size_gb: 'MAX', raid_level: '5', controller: 'software' },
        ],
      };
      const set = await suite.ironic.request('PUT', `/v1/nodes/${node.uuid}/states/raid`, config);
      expect(set.status, JSON.stringify(set.json)).toBe(204);

      const changes: StateChange[] = [];
      await suite.ironic.setProvisionState(node.uuid, 'clean', {
        clean_steps: [
          { interface: 'raid', step: 'delete_configuration' },
          { interface: 'raid', step: 'create_configuration' },
        ],
      });
      await suite.ironic.waitForProvisionState(node.uuid, 'clean wait', { failOn: ['clean failed'], timeoutMs: 30_000, changes });
      const agent = await suite.startAgent({ allowDevices: disks.map((d) => d.path) });

      const failed = await suite.ironic.waitForProvisionState(node.uuid, 'clean failed', {
        failOn: ['manageable'],
        timeoutMs: 180_000,
        changes,
      });
      process.stdout.write(`[interop]   states: ${describeChanges(changes)}\n`);
      expect(failed.last_error).toBe(
        `Clean step raid.create_configuration failed on node ${node.uuid}. Could not validate Software RAID config for ${node.uuid}: ` +
          'Software RAID configuration is not possible for RAID level 5 with only 2 block devices found.',
      );
      expect(agent.stepsRun().map((s) => s.step)).toEqual(['delete_configuration', 'create_configuration']);
      const raw = (await suite.ironic.request('GET', `/v1/nodes/${node.uuid}`)).json as Record<string, unknown>;
      expect(raw.raid_config).toEqual({});
      disks.forEach((d, i) => {
        expect(signatures(d.path)).toEqual([]);
        expect(readBytes(d.path, 0, 2 * MiB).equals(before[i]![0]!)).toBe(true);
        expect(readBytes(d.path, 62 * MiB, 2 * MiB).equals(before[i]![1]!)).toBe(true);
      });
    });
  }, 240_000);
});
