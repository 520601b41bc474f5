/**
 * image.install_bootloader after a partition image, as Ironic's configure_local_boot calls it
 * (root_uuid: the root filesystem's UUID, BIOS): a real agent, allowed only the test's loop
 * device, runs the image's own grub-install and grub-mkconfig in a chroot of the root
 * partition, as IPA's _install_grub2. The disk is laid out as ironic-lib's make_partitions
 * lays it out for a BIOS local boot (msdos: a swap partition, then the root with the boot
 * flag; gpt: a 1 MiB bios_grub partition, then the root), and the root partition holds the
 * e2e grub image's root filesystem (built from the host's grub-pc-bin). Afterwards, read
 * from the device: grub's boot code in the MBR pointing at its core image (in the gap before
 * the first partition on msdos, in the BIOS boot partition on gpt), the partition table
 * unchanged, and grub.cfg and grub's modules in the root filesystem (debugfs; nothing is left
 * mounted). UEFI for such a root is refused, saying what is supported.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import type { AgentConfigInput } from '../../../src/agent/config/schema.js';
import { hasCommand } from '../../../src/hardware/exec.js';
import { checkGrubBootCode } from '../../e2e/harness/grub-check.js';
import { missingGrubImageTools, writeGrubRootFs, type GrubRootFs } from '../../e2e/harness/grub-image.js';
import { partitionsOf } from '../../e2e/harness/md-check.js';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageWriterTest } from './image-writer-lab.js';

const DISK_MIB = 4608;
const canRun =
  canUseLoopDevices() &&
  missingGrubImageTools() === undefined &&
  (await hasCommand('parted')) &&
  (await hasCommand('debugfs')) &&
  (await hasCommand('chroot'));

/** ironic-lib's DiskPartitioner commands for a BIOS local boot, root last (MiB). */
const LAYOUTS = {
  msdos: [
    'mklabel',
    'msdos',
    'mkpart',
    'primary',
    'linux-swap',
    '1',
    '9',
    'mkpart',
    'primary',
    '9',
    '73',
    'set',
    '2',
    'boot',
    'on',
  ],
  gpt: ['mklabel', 'gpt', 'mkpart', 'primary', '1', '2', 'set', '1', 'bios_grub', 'on', 'mkpart', 'primary', '2', '66'],
};

interface Deployed {
  device: string;
  root: string;
  tableBefore: string;
  installBootloader(params: Record<string, unknown>): Promise<any>;
}

const it = imageWriterTest.extend<{
  rootFs: GrubRootFs;
  deployed: (label: keyof typeof LAYOUTS, config?: Partial<AgentConfigInput>) => Promise<Deployed>;
}>({
  rootFs: [async ({ scratch }, use) => use(writeGrubRootFs(join(scratch.dir, 'root.ext4'))), { scope: 'file' }],
  // The disk as write_image leaves it for a partition image, and an agent allowed only it.
  deployed: async ({ disks, rootFs, startAgent }, use) => {
    await use(async (label, config) => {
      const disk = disks.create({ sizeMiB: DISK_MIB });
      execFileSync('parted', ['-a', 'optimal', '-s', disk.path, '--', 'unit', 'MiB', ...LAYOUTS[label]]);
      // parted told the kernel already (BLKPG); --update makes sure, without failing on known ones.
      execFileSync('partx', ['--update', disk.path], { stdio: 'ignore' });
      const root = `${disk.path}p2`;
      execFileSync('dd', [`if=${rootFs.file}`, `of=${root}`, 'bs=1M', 'conv=fsync', 'status=none']);
      const tableBefore = execFileSync('sfdisk', ['--dump', disk.path], { encoding: 'utf8' });
      const { client } = await startAgent([disk.path], config);
      return {
        device: disk.path,
        root,
        tableBefore,
        async installBootloader(params) {
          const started = await client.post('image.install_bootloader', params);
          expect(started.status, JSON.stringify(started.body)).toBe(200);
          return client.waitFor(started.body.id);
        },
      };
    });
  },
});

const debugfs = (fs: string, request: string) =>
  execFileSync('debugfs', ['-R', request, fs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

describe.skipIf(!canRun)('image.install_bootloader for a partition image root in BIOS mode', () => {
  it.for(['msdos', 'gpt'] as const)(
    "installs the image's grub on a %s disk from the root partition the root UUID names",
    async (label, { deployed, rootFs }) => {
      const { device, root, tableBefore, installBootloader } = await deployed(label, { enableBiosBootloaderInstall: true });
      const done = await installBootloader({ root_uuid: rootFs.uuid, target_boot_mode: 'bios' });
      expect(done.command_status, JSON.stringify(done.command_error)).toBe('SUCCEEDED');
      expect(done.command_result).toMatchObject({
        boot_mode: 'bios',
        action: 'grub-install',
        device,
        grub_disks: [device],
        root_partition: root,
      });

      expect(execFileSync('sfdisk', ['--dump', device], { encoding: 'utf8' }), 'the partition table is kept').toBe(tableBefore);
      const table = partitionsOf(device);
      const first = Math.min(...table.partitions.map((p) => p.startBytes / 512));
      const biosBoot = label === 'gpt' ? table.partitions[0]!.startBytes : undefined;
      checkGrubBootCode(device, first, biosBoot);

      expect(debugfs(root, 'cat /boot/grub/grub.cfg'), 'grub.cfg from grub-mkconfig').toContain(
        '### BEGIN /etc/grub.d/00_header ###',
      );
      const modules = debugfs(root, 'ls /boot/grub/i386-pc');
      for (const file of ['core.img', 'normal.mod', 'ext2.mod']) expect(modules, `/boot/grub/i386-pc/${file}`).toContain(file);
      // This disk's own mounts only: another test file can hold a grub chroot of its own at
      // the same time. The chroot's bind mounts sit under the root partition's mount, which
      // could not have come off (no lazy unmount) while any of them stayed.
      const ofThisDisk = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((line) => line.includes(` ${device}p`) || line.includes(` ${device} `));
      expect(ofThisDisk, 'nothing of the disk left mounted').toEqual([]);
    },
  );

  it('keeps the CVE-2026-43003 default: without enable_bios_bootloader_install the image is refused and the disk left as it is', async ({
    deployed,
    rootFs,
  }) => {
    const { device, installBootloader } = await deployed('msdos');
    const mbrBefore = execFileSync('dd', [`if=${device}`, 'bs=512', 'count=1', 'status=none']);
    const done = await installBootloader({ root_uuid: rootFs.uuid, target_boot_mode: 'bios' });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('InvalidImage');
    expect(done.command_error.details).toContain('disabled by CONF.enable_bios_bootloader_install');
    expect(execFileSync('dd', [`if=${device}`, 'bs=512', 'count=1', 'status=none']).equals(mbrBefore)).toBe(true);
  });

  it("fails with IPA's DeviceNotFound when no partition has the root UUID", async ({ deployed }) => {
    const { device, installBootloader } = await deployed('msdos', { enableBiosBootloaderInstall: true });
    const done = await installBootloader({ root_uuid: '6f1c2d3e-0000-4000-8000-000000000000', target_boot_mode: 'bios' });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('DeviceNotFound');
    expect(done.command_error.details).toBe(
      `No partition with UUID 6f1c2d3e-0000-4000-8000-000000000000 found on device ${device}`,
    );
  });

  it('refuses UEFI for a partition image root, saying what is supported', async ({ deployed, rootFs }) => {
    const { installBootloader } = await deployed('gpt', { enableBiosBootloaderInstall: true });
    const done = await installBootloader({ root_uuid: rootFs.uuid, target_boot_mode: 'uefi' });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('CommandExecutionError');
    expect(done.command_error.details).toContain('UEFI boot of a partition image is not supported');
    expect(done.command_error.details).toContain('Partition images are supported in BIOS mode');
  });
});
