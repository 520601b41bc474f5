/**
 * BIOS grub on a software RAID root chroots into the image's root partition as IPA's
 * get_partition finds it: the partition whose filesystem UUID, PARTUUID or label is the root
 * UUID Ironic sends (the image's rootfs_uuid), and only when none has it the first partition.
 * The disk is a loop device of the test laid out as RHEL-family cloud images are (a BIOS boot
 * partition first, the root filesystem second); it stands in for the md device. Programs
 * that only read the disk (sfdisk, blkid) run for real; the test stops at the mount of the
 * chosen partition, before anything is mounted or written.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installGrubOnSoftwareRaid } from '../../../hardware-managers/image-writer/bios-grub.js';
import { run } from '../../../src/hardware/exec.js';
import { createFakeStepContext, type RecordedExec } from '../../../src/testing/index.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const ROOT_FS_UUID = '5b0f7a52-9c8e-4f55-8a59-1f0f0e0c2d11';
const ROOT_PART_UUID = '0e4d8c1a-7b59-4b8e-a0a5-3d9d2c4f6e21';
const STOP = 'test stops at the mount';

describe.skipIf(!canUseLoopDevices())('grub for a software RAID root in BIOS mode', () => {
  const scratch = new ScratchDevices();
  let disk: ScratchDevice;

  beforeEach(() => {
    disk = scratch.create({ sizeMiB: 32 });
    execFileSync('sgdisk', [
      '-o',
      '-n',
      '1:2048:+2M',
      '-t',
      '1:ef02',
      '-n',
      `2:0:0`,
      '-t',
      '2:8300',
      '-u',
      `2:${ROOT_PART_UUID}`,
      disk.path,
    ]);
    execFileSync('partx', ['--add', disk.path], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-q', '-F', '-U', ROOT_FS_UUID, '-L', 'img-rootfs', `${disk.path}p2`], { stdio: 'ignore' });
  });
  afterEach(() => scratch.cleanup());

  /** The partition grub's chroot would be mounted from, for Ironic's root UUID. */
  async function mountedFor(rootUuid: string | null): Promise<string> {
    const fake = createFakeStepContext({
      phase: 'deploy',
      allowDevices: [disk.path],
      dispatch: (method) => {
        if (method !== 'prepare_software_raid_bios_boot') throw new Error(`unexpected dispatch ${method}`);
        return { holders: [disk.path], biosBootPartitions: [] };
      },
      exec: async (file, args, options) => {
        if (file === 'mount') throw new Error(STOP);
        // Reads only: the partition table and filesystem probes.
        if (file === 'sfdisk' || file === 'blkid') return run(file, args, options);
        return {};
      },
    });
    await expect(installGrubOnSoftwareRaid(fake.ctx, disk.path, rootUuid)).rejects.toThrow(STOP);
    const mounts = fake.execCalls.filter((c: RecordedExec) => c.file === 'mount');
    expect(mounts).toHaveLength(1);
    return mounts[0]!.args[0]!;
  }

  it("mounts the partition whose filesystem UUID is the root UUID, not the first one (a RHEL image's BIOS boot partition)", async () => {
    expect(await mountedFor(ROOT_FS_UUID)).toBe(`${disk.path}p2`);
    expect(await mountedFor(ROOT_FS_UUID.toUpperCase())).toBe(`${disk.path}p2`);
  });

  it('finds the root partition by its PARTUUID and by its filesystem label too, as get_partition does', async () => {
    expect(await mountedFor(ROOT_PART_UUID)).toBe(`${disk.path}p2`);
    expect(await mountedFor('img-rootfs')).toBe(`${disk.path}p2`);
  });

  it('falls back to the first partition when no partition has the root UUID (Ironic sent the disk identifier)', async () => {
    expect(await mountedFor('0x1a2b3c4d')).toBe(`${disk.path}p1`);
  });
});
