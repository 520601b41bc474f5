/**
 * BIOS grub on a software RAID root, run for real in a chroot of the image's root, as IPA's
 * _install_grub2 and _configure_grub do: an image with dracut gets `rd.md.uuid=` of every
 * array on GRUB_CMDLINE_LINUX before grub-mkconfig (dracut assembles no array without it),
 * an image without dracut keeps its command line. The image is a loop device of the test:
 * a BIOS boot partition, then an ext4 root holding a static busybox and stand-ins for
 * grub-install and grub-mkconfig that record what they were asked (grub-mkconfig copies
 * /etc/default/grub into grub.cfg); the md device's part (array restart, holders, UUIDs) is
 * the software RAID manager's answer, given by the test. Nothing but the test's disk is written.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installGrubOnSoftwareRaid } from '../../../hardware-managers/image-writer/bios-grub.js';
import { hasCommand, run } from '../../../src/hardware/exec.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const ROOT_UUID = '3c1de2a0-5f4b-4e8e-9a77-0b6f2d1e9c44';
const ARRAYS = ['b1022a62:e0a45820:14f39b94:fb57b1d8', '0f1e2d3c:4b5a6978:8796a5b4:c3d2e1f0'];
const BUSYBOX = '/usr/bin/busybox';

const canRun =
  canUseLoopDevices() && (await hasCommand('busybox')) && (await hasCommand('debugfs')) && (await hasCommand('chroot'));

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** A root filesystem tree: busybox as sh, sed, mount, umount, cat, mkdir; grub stand-ins; dracut if asked. */
function imageRoot(dir: string, withDracut: boolean): string {
  const root = join(dir, withDracut ? 'root-dracut' : 'root-plain');
  for (const sub of ['bin', 'usr/sbin', 'etc/default', 'boot']) mkdirSync(join(root, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'sed', 'mount', 'umount', 'cat', 'mkdir']) symlinkSync('busybox', join(root, 'bin', applet));
  script(join(root, 'usr/sbin/grub-install'), 'echo "$@" >> /grub-install.log');
  script(join(root, 'usr/sbin/grub-mkconfig'), '[ "$1" = -o ] || exit 2\nmkdir -p "${2%/*}"\ncat /etc/default/grub > "$2"');
  if (withDracut) script(join(root, 'usr/sbin/dracut'), 'exit 0');
  writeFileSync(join(root, 'etc/default/grub'), 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="console=ttyS0,115200n8 no_timer_check"\n');
  writeFileSync(join(root, 'etc/fstab'), '');
  return root;
}

describe.skipIf(!canRun)('grub on a software RAID root for an image with dracut', () => {
  const scratch = new ScratchDevices();
  afterEach(() => scratch.cleanup());

  function disk(withDracut: boolean): ScratchDevice {
    const device = scratch.create({ sizeMiB: 48 });
    execFileSync('sgdisk', ['-o', '-n', '1:2048:+2M', '-t', '1:ef02', '-n', '2:0:0', '-t', '2:8300', device.path]);
    execFileSync('partx', ['--add', device.path], { stdio: 'ignore' });
    const tree = imageRoot(scratch.dir, withDracut);
    execFileSync('mkfs.ext4', ['-q', '-F', '-U', ROOT_UUID, '-d', tree, `${device.path}p2`], { stdio: 'ignore' });
    return device;
  }

  async function installGrub(device: ScratchDevice): Promise<void> {
    const fake = createFakeStepContext({
      phase: 'deploy',
      allowDevices: [device.path],
      dispatch: () => ({ holders: [device.path], biosBootPartitions: [], arrayUuids: ARRAYS }),
      // The kernel already knows the test's partitions (partx): nothing to re-read.
      exec: (file, args, options) => (file === 'partprobe' || file === 'udevadm' ? {} : run(file, args, options)),
    });
    const result = await installGrubOnSoftwareRaid(fake.ctx, device.path, ROOT_UUID);
    expect(result).toMatchObject({ rootPartition: `${device.path}p2`, holders: [device.path], grub: 'grub' });
  }

  const readFromRoot = (device: ScratchDevice, path: string) =>
    execFileSync('debugfs', ['-R', `cat ${path}`, `${device.path}p2`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

  it('appends rd.md.uuid of every array to GRUB_CMDLINE_LINUX before grub-mkconfig', async () => {
    const device = disk(true);
    await installGrub(device);
    const expected = `GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 no_timer_check rd.md.uuid=${ARRAYS[0]} rd.md.uuid=${ARRAYS[1]}"`;
    expect(readFromRoot(device, '/etc/default/grub')).toContain(expected);
    expect(readFromRoot(device, '/boot/grub/grub.cfg')).toContain(expected);
    expect(readFromRoot(device, '/grub-install.log').trim()).toBe(device.path);
  });

  it('leaves the command line of an image without dracut alone', async () => {
    const device = disk(false);
    await installGrub(device);
    expect(readFromRoot(device, '/boot/grub/grub.cfg')).toContain('GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 no_timer_check"\n');
  });
});
