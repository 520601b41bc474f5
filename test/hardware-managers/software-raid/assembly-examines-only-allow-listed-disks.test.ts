// delete_configuration first assembles the arrays the disks describe. Outside a ramdisk the
// real mdadm must examine only the allow-listed disks and their partitions: a bare
// `--assemble --scan` examines every block device of the machine running the tests (and
// would assemble arrays from its own disks where its kernel has md). mdadm's `--verbose`
// lines name each device it examined; this machine's kernel has no md driver, so nothing is
// assembled, but which devices mdadm looked at is the same.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { assembleDescribedArrays } from '../../../hardware-managers/software-raid/assemble.js';
import { DeviceGuard, exec, hasCommand, type ExecOptions } from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/hardware/logger.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

const runnable =
  canUseLoopDevices() && (await hasCommand('mdadm')) && (await hasCommand('sgdisk')) && (await hasCommand('partx'));

/** The real exec, with the programs it ran recorded. */
function contextAllowing(allowList: string[]) {
  const ran: string[] = [];
  const recordingExec = (file: string, args: readonly string[] = [], options?: ExecOptions) => {
    ran.push(file);
    return exec(file, args, options);
  };
  return { exec: recordingExec, log: silentLogger, guard: new DeviceGuard({ allowList, inRamdisk: false }), ran };
}

/** The devices mdadm's verbose output names. */
function namedDevices(stderr: string): string[] {
  return [...new Set(stderr.match(/\/dev\/[\w/.-]+/g) ?? [])].sort();
}

describe.skipIf(!runnable)('software RAID assembly outside a ramdisk', () => {
  it('examines the allow-listed disk and its partition, and no other device of the machine', async () => {
    const allowed = scratch.create({ sizeMiB: 32 });
    const other = scratch.create({ sizeMiB: 32 });
    for (const disk of [allowed, other]) {
      execFileSync('sgdisk', ['--new=1:0:+8M', disk.path], { stdio: 'ignore' });
      execFileSync('partx', ['--add', disk.path], { stdio: 'ignore' });
    }
    const result = await assembleDescribedArrays(contextAllowing([allowed.path]));

    expect(namedDevices(result!.stderr)).toEqual([allowed.path, `${allowed.path}p1`]);
    expect(result?.command).toMatch(/^mdadm --assemble --scan --verbose --config=\S+mdadm\.conf$/);
  });

  it('does not run mdadm when no block device is allow-listed', async () => {
    const file = scratch.create({ sizeMiB: 8, plainFile: true });
    for (const allowList of [[file.file], []]) {
      const ctx = contextAllowing(allowList);
      expect(await assembleDescribedArrays(ctx)).toBeUndefined();
      expect(ctx.ran).not.toContain('mdadm');
    }
  });
});
