// The RAID steps driven as Ironic drives them (clean.execute_clean_step over HTTP, then
// polling), on real loop devices made by the test. This machine's kernel has no md driver,
// so arrays themselves are created in the booted ramdisk (test/e2e); here: the listing,
// validation, the device guard, and the roll-back when mdadm cannot create the array.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';
import { canUseLoopDevices, dropPartitionEntries, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const RAID_MANAGER = join(import.meta.dirname, '..', '..', '..', 'hardware-managers', 'software-raid');
const NODE_UUID = '4e4d3b8a-0c9d-4a8f-9d6a-2a6b8f1c9e11';
const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;
let client: AgentTestClient;

async function startAgentFor(allow: string[]): Promise<void> {
  agent = await startTestAgent({ allowDevices: allow, loadShippedManagers: false, hardwareManagerPaths: [RAID_MANAGER] });
  client = new AgentTestClient(agent.url);
}

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  scratch.cleanup();
});

/** sha256 of the first and last 2 MiB, where partition tables and md superblocks live. */
function edges(device: ScratchDevice): string {
  const hash = createHash('sha256');
  const fd = openSync(device.file, 'r');
  try {
    const buffer = Buffer.alloc(2 * 1024 * 1024);
    for (const position of [0, device.sizeBytes - buffer.length]) {
      readSync(fd, buffer, 0, buffer.length, position);
      hash.update(buffer);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function partitionTable(device: ScratchDevice): string {
  try {
    return execFileSync('sfdisk', ['--json', device.path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

const root = { size_gb: 1, raid_level: '1', controller: 'software', volume_name: 'root', is_root_volume: true };
const data = (raid_level: string) => ({ size_gb: 'MAX', raid_level, controller: 'software', volume_name: 'data' });

async function cleanStep(step: string, node: Record<string, unknown>, args: Record<string, unknown> = {}) {
  const posted = await client.post('clean.execute_clean_step', {
    step: { step, interface: 'raid', priority: 0, args },
    node: { uuid: NODE_UUID, properties: {}, instance_info: {}, driver_internal_info: {}, ...node },
    ports: [],
  });
  expect(posted.status).toBe(200);
  const snapshots: any[] = [];
  const final = await client.waitFor(posted.body.id, (body) => body.command_progress && snapshots.push(body.command_progress));
  return { final, snapshots };
}

describe('step listing', () => {
  it("offers IPA's RAID steps: create (clean), apply (deploy, raid_config + delete_existing), delete (clean and deploy)", async () => {
    await startAgentFor([]);
    const node = { uuid: NODE_UUID, properties: {}, instance_info: {}, driver_internal_info: {} };
    const clean = await client.post('clean.get_clean_steps', { node, ports: [] }, true);
    const cleanSteps = Object.values(clean.body.command_result.clean_steps as Record<string, any[]>).flat();
    expect(cleanSteps.map((s) => s.step).sort()).toEqual(['create_configuration', 'delete_configuration']);
    for (const step of cleanSteps)
      expect(step).toMatchObject({ priority: 0, interface: 'raid', abortable: true, reboot_requested: false });

    const deploy = await client.post('deploy.get_deploy_steps', { node, ports: [] }, true);
    const deploySteps = Object.values(deploy.body.command_result.deploy_steps as Record<string, any[]>).flat();
    expect(deploySteps.find((s) => s.step === 'create_configuration')).toBeUndefined();
    expect(deploySteps.find((s) => s.step === 'delete_configuration')).toMatchObject({ priority: 0, interface: 'raid' });
    expect(deploySteps.find((s) => s.step === 'apply_configuration')).toMatchObject({
      priority: 0,
      interface: 'raid',
      argsinfo: {
        raid_config: { description: 'The RAID configuration to apply.', required: true },
        delete_existing: { required: false },
      },
    });
  });
});

describe.runIf(canUseLoopDevices())('RAID steps on real loop devices', () => {
  it('create_configuration without target_raid_config, or for hardware RAID only, does nothing and returns {}', async () => {
    const disk = scratch.create({ sizeMiB: 64 });
    await startAgentFor([disk.path]);
    const before = edges(disk);
    expect((await cleanStep('create_configuration', {})).final).toMatchObject({
      command_status: 'SUCCEEDED',
      command_result: { clean_result: {} },
    });
    const hardware = { logical_disks: [{ size_gb: 10, raid_level: '5', controller: 'RAID.Integrated.1-1' }] };
    expect((await cleanStep('create_configuration', { target_raid_config: hardware })).final.command_result.clean_result).toEqual(
      {},
    );
    expect(edges(disk)).toBe(before);
  });

  it('RAID-5 over two disks fails validation with IPA’s message and writes nothing', async () => {
    const disks = [scratch.create({ sizeMiB: 2048 }), scratch.create({ sizeMiB: 2048 })];
    await startAgentFor(disks.map((d) => d.path));
    const before = disks.map(edges);
    const { final } = await cleanStep('create_configuration', { target_raid_config: { logical_disks: [root, data('5')] } });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error).toMatchObject({
      type: 'SoftwareRAIDError',
      details: `Could not validate Software RAID config for ${NODE_UUID}: Software RAID configuration is not possible for RAID level 5 with only 2 block devices found.`,
    });
    expect(disks.map(edges)).toEqual(before);
  });

  it('an invalid config fails with Ironic’s schema message', async () => {
    const disks = [scratch.create({ sizeMiB: 64 }), scratch.create({ sizeMiB: 64 })];
    await startAgentFor(disks.map((d) => d.path));
    const config = { logical_disks: [{ ...root, size_gb: 'big' }] };
    const { final } = await cleanStep('create_configuration', { target_raid_config: config });
    expect(final.command_error.details).toBe("RAID config validation error: 'big' is not valid under any of the given schemas");
  });

  it('holders with partitions, or a holder the guard refuses (mounted), fail the step before any write', async () => {
    const [a, b] = [scratch.create({ sizeMiB: 2048 }), scratch.create({ sizeMiB: 2048 })];
    execFileSync('sgdisk', ['-n', '1:0:+8M', a.path], { stdio: 'ignore' });
    await startAgentFor([a.path, b.path]);
    let before = [a, b].map(edges);
    let { final } = await cleanStep('create_configuration', { target_raid_config: { logical_disks: [root] } });
    expect(final.command_error).toMatchObject({
      type: 'SoftwareRAIDError',
      details: `Partitions detected on devices ${a.path} during RAID config`,
    });
    expect([a, b].map(edges)).toEqual(before);

    execFileSync('sgdisk', ['--zap-all', a.path], { stdio: 'ignore' });
    dropPartitionEntries(a.path);
    scratch.mount(b);
    before = [a, b].map(edges);
    ({ final } = await cleanStep('create_configuration', { target_raid_config: { logical_disks: [root] } }));
    expect(final.command_error).toMatchObject({ type: 'ProtectedDeviceError' });
    expect(final.command_error.details).toMatch(new RegExp(`Refusing to write to ${b.path}: it holds a mounted filesystem`));
    expect(edges(a)).toBe(before[0]);
  });

  // Where the kernel has md, mdadm succeeds and the arrays are checked in the booted ramdisk instead.
  it.skipIf(existsSync('/proc/mdstat'))(
    'when mdadm cannot create an array, the new partition tables are wiped again: nothing half-made is left',
    async () => {
      const disks = [scratch.create({ sizeMiB: 1536 }), scratch.create({ sizeMiB: 1536 })];
      const bystander = scratch.create({ sizeMiB: 64, randomMiB: 4 });
      await startAgentFor(disks.map((d) => d.path));
      const bystanderBefore = edges(bystander);
      const node = {
        target_raid_config: { logical_disks: [root, data('0')] },
        instance_info: { deploy_boot_mode: 'bios', capabilities: { disk_label: 'gpt' } },
      };
      const { final, snapshots } = await cleanStep('create_configuration', node);
      expect(final.command_status).toBe('FAILED');
      const members = disks.map((d) => `${d.path}p1`).join(' ');
      expect(final.command_error.details).toContain(`Failed to create md device /dev/md0 on ${members}: `);
      expect(final.command_error.details).toContain(
        `(rolled back: wiped the new partition tables of ${disks.map((d) => d.path).join(', ')})`,
      );
      expect(snapshots.map((s) => s.stage)).toContain('partitioning');
      for (const disk of disks) {
        expect(partitionTable(disk)).toBe('');
        expect(existsSync(`${disk.path}p1`)).toBe(false);
      }
      expect(edges(bystander)).toBe(bystanderBefore);
    },
  );

  it('delete_configuration with no arrays leaves every disk untouched', async () => {
    const disks = [scratch.create({ sizeMiB: 64, randomMiB: 4 }), scratch.create({ sizeMiB: 64, randomMiB: 4 })];
    execFileSync('sgdisk', ['-n', '1:0:+8M', disks[0]!.path], { stdio: 'ignore' });
    await startAgentFor(disks.map((d) => d.path));
    const before = disks.map(edges);
    const { final } = await cleanStep('delete_configuration', {});
    expect(final).toMatchObject({
      command_status: 'SUCCEEDED',
      command_result: { clean_result: { deleted: [], holders_wiped: [] } },
    });
    expect(disks.map(edges)).toEqual(before);
  });
});
