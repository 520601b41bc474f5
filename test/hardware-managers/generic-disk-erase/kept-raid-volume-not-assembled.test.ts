// A software RAID volume kept by skip_block_devices [{"volume_name": "kept"}] whose array is
// not assembled (our ramdisk assembles nothing at boot): the erase steps must leave every
// disk carrying one of its members alone, and say so. Real loop devices; the member
// partition carries a real md 1.2 superblock named "ramdisk:kept" (test/helpers/md-superblock.ts:
// this kernel has no md driver, so mdadm cannot create one, but reads this one).
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { planErase } from '../../../hardware-managers/generic-disk-erase/plan.js';
import { runEraseStep } from '../../../hardware-managers/generic-disk-erase/erase-step.js';
import { eraseSettingsFromNode } from '../../../hardware-managers/generic-disk-erase/settings.js';
import type { RunningAgent } from '../../../src/agent/agent.js';
import type { AgentTestClient } from '../../helpers/agent.js';
import { exec as realExec } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { writeMdSuperblock } from '../../helpers/md-superblock.js';
import { dropPartitions, partition, probe, runStep, sha256, startEraseAgent, withGptAndFilesystem } from './helpers.js';

const KEEP = { skip_block_devices: [{ volume_name: 'kept' }] };
const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  dropPartitions();
  scratch.cleanup();
});

/** A disk as the kept volume's member: p1 holds ext4, p2 (8 MiB) the md superblock of `name`. */
function memberDisk(name: string): ScratchDevice {
  const disk = scratch.create({ sizeMiB: 24, randomMiB: 24 });
  partition(disk, ['-n1:0:+8M', '-n2:0:+8M']);
  execFileSync('mkfs.ext4', ['-q', '-F', `${disk.path}p1`], { stdio: 'ignore' });
  writeMdSuperblock(`${disk.path}p2`, name, 8 * 2048);
  return disk;
}

describe.runIf(canUseLoopDevices())('erase steps and a kept software RAID volume that is not assembled', () => {
  it('the member partition carries a superblock mdadm reads as the kept volume', () => {
    const disk = memberDisk('ramdisk:kept');
    const examined = execFileSync('mdadm', ['--examine', `${disk.path}p2`], { encoding: 'utf8' });
    expect(examined).toMatch(/^\s+Name : ramdisk:kept$/m);
    expect(examined).toMatch(/^\s+Checksum : [0-9a-f]+ - correct$/m);
    expect(probe(`${disk.path}p2`)).toMatch(/TYPE=linux_raid_member/);
  });

  it('erase_devices_metadata leaves the disk holding a member of the kept volume untouched, says so, and erases the others', async () => {
    const kept = memberDisk('ramdisk:kept');
    const other = scratch.create({ sizeMiB: 24, randomMiB: 24 });
    withGptAndFilesystem(scratch, other);
    const keptSum = sha256(kept.file);
    let client: AgentTestClient;
    ({ agent, client } = await startEraseAgent([kept.path, other.path]));

    const { final } = await runStep(client, 'erase_devices_metadata', { properties: KEEP });

    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report.skipped).toContainEqual({
      device: kept.path,
      kind: 'kept-raid-volume',
      reason: `member of the kept software RAID volume "kept" (superblock on ${kept.path}p2, its array not assembled)`,
    });
    expect(report.devices[kept.path]).toBeUndefined();
    expect(sha256(kept.file)).toBe(keptSum);
    expect(report.devices[other.path]).toMatchObject({ method: 'metadata', verify: { passed: true } });
    expect(probe(other.path)).toBe('');
  });

  it('the kept disk is left alone even when the signature probe does not report it a RAID member', async () => {
    // As with a udev database whose entry for the partition lacks ID_FS_TYPE: blkid's answer
    // for the member partition is "nothing found"; every other command runs for real.
    const kept = memberDisk('ramdisk:kept');
    const other = scratch.create({ sizeMiB: 24, randomMiB: 24 });
    withGptAndFilesystem(scratch, other);
    const keptSum = sha256(kept.file);
    const node = { uuid: '4e4d3b8a-0c9d-4a8f-9d6a-2a6b8f1c9e11', properties: KEEP, instance_info: {}, driver_internal_info: {} };
    const { ctx } = createFakeStepContext({
      node,
      allowDevices: [kept.path, other.path],
      exec: (file, args, options) =>
        file === 'blkid' && args.at(-1) === `${kept.path}p2` ? { exitCode: 2 } : realExec(file, args, options),
    });

    const report = await runEraseStep(
      ctx,
      { step: 'erase_devices_metadata', readOnly: 'skip', choose: async () => ({ method: { kind: 'metadata' }, notUsed: [] }) },
      false,
    );

    expect(report.skipped).toContainEqual(expect.objectContaining({ device: kept.path, kind: 'kept-raid-volume' }));
    expect(sha256(kept.file)).toBe(keptSum);
    expect(Object.keys(report.devices)).toEqual([other.path]);
  });

  it('examines only the candidate disks and their partitions, and nothing when the skip list names no volume', async () => {
    const kept = memberDisk('ramdisk:kept');
    const examined = async (properties: Record<string, unknown>) => {
      const fake = createFakeStepContext({
        node: { uuid: 'n', properties, instance_info: {}, driver_internal_info: {} },
        allowDevices: [kept.path],
        exec: 'real',
      });
      const plan = await planErase(fake.ctx, { settings: eraseSettingsFromNode(fake.ctx.node), readOnly: 'skip' });
      const calls = fake.execCalls.filter((c) => c.file === 'mdadm' && c.args[0] === '--examine').map((c) => c.args.at(-1));
      return { plan, calls };
    };

    const withVolume = await examined(KEEP);
    expect(new Set(withVolume.calls)).toEqual(new Set([`${kept.path}p1`, `${kept.path}p2`]));
    expect(withVolume.plan.targets).toEqual([]);

    // Without a kept volume the disk is still a RAID member, left alone as IPA leaves one.
    const withoutVolume = await examined({});
    expect(withoutVolume.calls).toEqual([]);
    expect(withoutVolume.plan.skipped).toContainEqual(expect.objectContaining({ device: kept.path, kind: 'raid-member' }));
  });
});
