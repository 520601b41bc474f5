/**
 * A partition image through a stock Ironic 21.4 in BIOS mode (test/interop's conductor,
 * fake-hardware, power applied to the VM by the hook as in stock-ironic.e2e.ts): the image is
 * the grub image's ext4 root filesystem alone (harness/grub-image.ts), served over HTTP with
 * `image_type: partition` in instance_info (Ironic 21.4 takes a non-Glance image for a
 * partition image only from that or from instance_info kernel/ramdisk, and needs those only
 * for network boot; for local boot it needs root_gb), root_gb 1, swap_mb 64, ephemeral_gb 1
 * and a config drive built by Ironic from meta_data. The disk is a 3 GiB SATA disk chosen by
 * its serial; the agent boots with `ipa-enable-bios-bootloader-install=1` (IPA's default
 * since CVE-2026-43003 refuses grub-install). Ironic calls write_image (make_partitions'
 * layout, the image into the root partition), get_partition_uuids and, for a partition image
 * in BIOS mode, install_bootloader with the root filesystem's UUID → active. The host checks
 * the disk file: the msdos layout and each partition's content, the image's files with
 * grub.cfg and grub's modules in the root, grub's boot code in the MBR with its core image in
 * the gap before the first partition, and that the disk boots to grub's prompt in a
 * throw-away QEMU (SeaBIOS, the file read-only).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { bootGrubFrom, checkGrubBootCode } from './harness/grub-check.js';
import { missingGrubImageTools } from './harness/grub-image.js';
import { checkConfigDrive, checkPartitionLayout, checkRootFilesystem } from './harness/partition-check.js';
import { StockIronicScenario } from './harness/stock-ironic-scenario.js';
import { e2eSkipReason } from './harness/world.js';

const IRONIC_OVERRIDES = `[deploy]
fast_track = True
default_boot_mode = bios
[conductor]
automated_clean = False
deploy_callback_timeout = 600`;
const DISK = { name: 'part-disk', sizeMiB: 3072, serial: 'E2E-PART' };
const HOSTNAME = 'e2e-partition';

const skip = e2eSkipReason(missingGrubImageTools()) ?? interopSkipReason();

describe.skipIf(skip)(`e2e: a partition image in BIOS mode, stock Ironic 21.4${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const scenario = new StockIronicScenario('partition image, BIOS, stock Ironic', IRONIC_OVERRIDES, {
    extraDisks: [DISK],
    kernelParams: ['ipa-enable-bios-bootloader-install=1'],
  });

  it(
    'deploy a partition image with swap, ephemeral and a config drive → write_image, get_partition_uuids, install_bootloader → active; grub boots from the disk',
    { timeout: 600_000 },
    async () => {
      const { ironic, world: w } = scenario;
      const t = w.timeline;
      const say = (line: string) => t.say(line);
      const { node, hook, wait } = await scenario.enrol({
        name: 'e2e-partition-vm',
        properties: { root_device: { serial: DISK.serial } },
        driver_info: { deploy_forces_oob_reboot: true, image_http_proxy: w.guestProxyUrl },
      });

      await t.phase('manage, provide (no automated cleaning)', async () => {
        await ironic.setProvisionState(node.uuid, 'manage');
        await wait(['manageable'], ['enroll']);
        await ironic.setProvisionState(node.uuid, 'provide');
        await wait(['available'], ['clean failed']);
      });

      const image = w.grubPartitionImage('partition-root');
      await t.phase('deploy the partition image: write_image, get_partition_uuids, install_bootloader (BIOS)', async () => {
        await ironic.patchNode(node.uuid, {
          instance_info: {
            image_source: image.url,
            image_os_hash_algo: 'sha256',
            image_os_hash_value: image.sha256,
            image_type: 'partition',
            root_gb: 1,
            swap_mb: 64,
            ephemeral_gb: 1,
          },
        });
        await ironic.setProvisionState(node.uuid, 'active', { configdrive: { meta_data: { hostname: HOSTNAME } } });
        await wait(['active'], ['deploy failed']);
      });
      const active = await ironic.node(node.uuid);
      say(`Ironic's root_uuid_or_disk_id: ${String(active.driver_internal_info.root_uuid_or_disk_id)}`);
      expect(active.driver_internal_info.root_uuid_or_disk_id, 'the root UUID get_partition_uuids answered').toBe(image.uuid);

      const disk = w.vm.extraDisks[DISK.name]!;
      const layout = checkPartitionLayout(disk, { ephemeralMiB: 1024, swapMiB: 64, rootMiB: 1024 }, image);
      for (const line of layout.lines) say(`host check: ${line}`);
      say(`host check: ${checkConfigDrive(disk, layout, { uuid: node.uuid, hostname: HOSTNAME })}`);
      say(`host check: ${checkRootFilesystem(disk, layout, image)}`);
      const first = Math.min(...layout.partitions.map((p) => p.startBytes / 512));
      const core = checkGrubBootCode(disk, first);
      say(`host check: grub boot code in the MBR, core image at sector ${core}, before the first partition (sector ${first})`);

      const output = await t.phase('boot the disk alone (SeaBIOS, read-only): grub from the root partition', () =>
        bootGrubFrom(disk, join(w.dir, 'grub-boot.log')),
      );
      expect(output).toMatch(/grub> ?/);
      say("host check: the disk boots to grub's prompt on the serial port");
      say(`power actions applied to the VM: ${hook.actions.join(', ')}`);
    },
  );
});
