/**
 * The part of IPA's `_install_grub2` and `_configure_grub` that runs inside the deployed
 * image, shared by a software RAID root (bios-grub.ts, every holder disk) and a partition
 * image's root on a plain disk (partition-grub.ts, that one disk): the image's root
 * partition mounted on a temporary folder, /dev, /proc and /run bound and sysfs mounted
 * (IPA's _mount_for_chroot), the image's vfat filesystems mounted as its fstab says (grub may
 * keep grubenv on an ESP), then in a chroot the image's own `grub-install <disk>` (or
 * `grub2-install` when the image has that one) for every disk, and `grub-mkconfig -o
 * /boot/<grub>/grub.cfg` with os-prober off and GRUB_SAVEDEFAULT, as IPA runs them. Whatever
 * was mounted is unmounted, in reverse order, even when a step failed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError, type StepContext } from '../../src/hardware/index.js';

const BIND_MOUNTS = ['/dev', '/proc', '/run'] as const;

interface ImageChroot {
  /** `grub2` when the image has /usr/sbin/grub2-install (RHEL family), else `grub`. */
  grub: 'grub' | 'grub2';
  /** Runs a shell command in the chroot of the image's root. */
  run(command: string, env?: Record<string, string>): Promise<unknown>;
}

export interface ImageGrubPlan {
  /** The partition holding the image's root filesystem. */
  rootPartition: string;
  /** The whole disks grub's boot code goes to. */
  disks: readonly string[];
  /** Runs in the chroot after grub-install, before grub-mkconfig (the md root's dracut parameters). */
  beforeConfig?: (image: ImageChroot) => Promise<void>;
}

export async function installImageGrub(ctx: StepContext, plan: ImageGrubPlan): Promise<'grub' | 'grub2'> {
  // IPA's _get_path_variable: the chroot finds grub in /usr/sbin and /sbin whatever PATH is.
  const env = { PATH: `${process.env.PATH ?? ''}:/bin:/usr/sbin:/sbin`, LC_ALL: 'C' };
  const root = await mkdtemp(join(tmpdir(), 'grub-root-'));
  const run = (command: string, extra: Record<string, string> = {}) =>
    ctx.exec('chroot', [root, '/bin/sh', '-c', command], { env: { ...env, ...extra }, timeoutMs: 10 * 60_000 });
  const mounted: string[] = [];
  let vfatMounted = false;
  try {
    await ctx.exec('mount', [plan.rootPartition, root]);
    mounted.push(root);
    for (const fs of BIND_MOUNTS) {
      await ctx.exec('mkdir', ['-p', root + fs]);
      await ctx.exec('mount', ['-o', 'bind', fs, root + fs]);
      mounted.push(root + fs);
    }
    await ctx.exec('mkdir', ['-p', `${root}/sys`]);
    await ctx.exec('mount', ['-t', 'sysfs', 'none', `${root}/sys`]);
    mounted.push(`${root}/sys`);

    const grub = existsSync(join(root, 'usr/sbin/grub2-install')) ? 'grub2' : 'grub';
    // Set first: `mount -a` can fail after mounting some of them, which must come off too
    // (IPA's _umount_all_partitions runs whatever happened).
    vfatMounted = true;
    await run('mount -a -t vfat');
    ctx.log.info({ disks: plan.disks, root: plan.rootPartition }, `installing the image's ${grub}`);
    // The disk paths come from the partition table and the md holders, never from the request.
    for (const disk of plan.disks) await run(`${grub}-install ${disk}`);
    await plan.beforeConfig?.({ grub, run });
    await run(`${grub}-mkconfig -o /boot/${grub}/grub.cfg`, { GRUB_DISABLE_OS_PROBER: 'true', GRUB_SAVEDEFAULT: 'true' });
    return grub;
  } finally {
    if (vfatMounted) await run('umount -a -t vfat').catch(() => undefined);
    for (const path of mounted.reverse()) {
      await ctx.exec('umount', [path]).catch((error: unknown) => {
        ctx.log.warn({ path, err: describeError(error) }, 'could not unmount after installing grub');
      });
    }
    await rmdir(root).catch(() => undefined);
  }
}
