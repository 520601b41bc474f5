/**
 * The image's vfat filesystems are mounted in the chroot with `mount -a -t vfat`, which can
 * fail after mounting some of them (an fstab with an ESP and a second vfat entry, one of them
 * missing). IPA's _umount_all_partitions unmounts them whatever happened; so must we, or the
 * tenant's ESP stays mounted under a temporary folder of the ramdisk and the bind mounts
 * under it cannot be unmounted. Every program is answered by the test: nothing is mounted.
 */
import { describe, expect, it } from 'vitest';
import { installImageGrub } from '../../../hardware-managers/image-writer/grub-chroot.js';
import { ExecError } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';

describe('grub in a chroot of the image', () => {
  it('unmounts the vfat filesystems and every mount when mount -a -t vfat fails part-way', async () => {
    const fake = createFakeStepContext({
      phase: 'deploy',
      exec: (file, args) => {
        if (file === 'chroot' && args.at(-1) === 'mount -a -t vfat') {
          throw new ExecError({
            command: 'mount -a -t vfat',
            reason: 'exit',
            exitCode: 32,
            stdout: '',
            stderr: 'mount: /boot/efi2: special device does not exist',
          });
        }
        return {};
      },
    });
    await expect(installImageGrub(fake.ctx, { rootPartition: '/dev/sdz3', disks: ['/dev/sdz'] })).rejects.toThrow();
    const calls = fake.execCalls.map((c) =>
      c.file === 'chroot' ? `chroot ${String(c.args.at(-1))}` : `${c.file} ${c.args.join(' ')}`,
    );
    const vfatUnmount = calls.indexOf('chroot umount -a -t vfat');
    expect(vfatUnmount).toBeGreaterThan(calls.indexOf('chroot mount -a -t vfat'));
    const unmounts = calls.filter((c) => c.startsWith('umount '));
    // sys, run, proc, dev, then the root: after the vfat filesystems mounted below them.
    expect(unmounts).toHaveLength(5);
    expect(unmounts.every((c) => calls.indexOf(c) > vfatUnmount)).toBe(true);
    expect(calls.some((c) => c.includes('grub-install'))).toBe(false);
  });
});
