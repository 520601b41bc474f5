/**
 * image.install_bootloader after a whole-disk write: BIOS needs nothing without a root UUID;
 * with one, grub is refused as IPA refuses it unless enable_bios_bootloader_install is set,
 * and then needs the partition the root UUID names (a partition image's root,
 * grub-installs-on-a-partition-image-root.test.ts; a software RAID root runs in the booted
 * ramdisk: the e2e software RAID scenario). UEFI finds the
 * ESP and its loader on the written disk, and fails clearly (never crashes) when there is
 * no ESP, no efibootmgr, or no right to touch NVRAM (outside a ramdisk, as here: the host's
 * boot entries are never changed by a test). ignore_bootloader_failure turns the failure
 * into a reported, ignored error. A UEFI target on an agent booted in BIOS mode (this
 * machine, when it is one) is IPA's mode mismatch: no NVRAM, and done for a GPT image.
 */
import { describe, expect } from 'vitest';
import type { AgentConfigInput } from '../../../src/agent/config/schema.js';
import { bootedInUefi, findEfiSystemPartition, registerBootEntries } from '../../../src/hardware/index.js';
import { run } from '../../../src/hardware/exec.js';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildGptImage, buildMbrImage, type TestImage } from './test-images.js';

const DISK_MIB = 4608;
const hostBootedInUefi = await bootedInUefi();

interface WrittenDisk {
  device: string;
  uuids: any;
  /** image.install_bootloader on the agent that wrote the disk, polled to the end. */
  installBootloader(params: Record<string, unknown>): Promise<any>;
}

const it = imageWriterTest.extend<{
  gpt: TestImage;
  noEsp: TestImage;
  mbr: TestImage;
  written: (image: TestImage, name: string, config?: Partial<AgentConfigInput>) => Promise<WrittenDisk>;
}>({
  gpt: [async ({ scratch }, use) => use(buildGptImage(scratch.dir)), { scope: 'file' }],
  noEsp: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir, 16, false)), { scope: 'file' }],
  // An ESP and a disk identifier (0x1a2b3c4d): Ironic's root UUID is not 0x00000000.
  mbr: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir, 24, true)), { scope: 'file' }],
  // Writes `image` onto a fresh disk of the test through an agent allowed only that disk.
  written: async ({ disks, server, startAgent }, use) => {
    await use(async (image, name, config) => {
      const device = disks.create({ sizeMiB: DISK_MIB });
      const harness = await startAgent([device.path], config);
      const outcome = await runWriteImage(harness.client, imageInfo(server.serveFile(name, image.path), image.sha256));
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      const uuids = (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
      return {
        device: device.path,
        uuids,
        async installBootloader(params) {
          const started = await harness.client.post('image.install_bootloader', params);
          expect(started.status).toBe(200);
          return harness.client.waitFor(started.body.id);
        },
      };
    });
  },
});

describe.skipIf(!canUseLoopDevices())('image.install_bootloader', () => {
  it('has nothing to do for a BIOS whole-disk image without a root UUID', async ({ gpt, written }) => {
    const { device, installBootloader } = await written(gpt, 'bios.raw');
    for (const root_uuid of [null, '0x00000000']) {
      const done = await installBootloader({ root_uuid, target_boot_mode: 'bios' });
      expect(done.command_status).toBe('SUCCEEDED');
      expect(done.command_result).toMatchObject({ boot_mode: 'bios', action: 'none', device });
    }
  });

  it('refuses grub for BIOS with a root UUID as IPA does, unless enable_bios_bootloader_install; then the UUID must name a partition', async ({
    gpt,
    written,
  }) => {
    const off = await (
      await written(gpt, 'bios-off.raw')
    ).installBootloader({ root_uuid: '0x1a2b3c4d', target_boot_mode: 'bios' });
    expect(off.command_status).toBe('FAILED');
    expect(off.command_error.type).toBe('InvalidImage');
    expect(off.command_error.details).toContain('disabled by CONF.enable_bios_bootloader_install as part of CVE-2026-43003');

    const { device, installBootloader } = await written(gpt, 'bios-on.raw', { enableBiosBootloaderInstall: true });
    const plain = await installBootloader({ root_uuid: '0x1a2b3c4d', target_boot_mode: 'bios' });
    // A whole-disk image's disk identifier names no partition: IPA's get_partition fails.
    expect(plain.command_status).toBe('FAILED');
    expect(plain.command_error.type).toBe('DeviceNotFound');
    expect(plain.command_error.details).toBe(`No partition with UUID 0x1a2b3c4d found on device ${device}`);
    const ignored = await installBootloader({
      root_uuid: '0x1a2b3c4d',
      target_boot_mode: 'bios',
      ignore_bootloader_failure: true,
    });
    expect(ignored.command_status).toBe('SUCCEEDED');
    expect(ignored.command_result).toMatchObject({ boot_mode: 'bios', action: 'none' });
    expect(ignored.command_result.ignored_error).toContain('No partition with UUID 0x1a2b3c4d');
  });

  it('finds the ESP and its loader for UEFI, and refuses to touch NVRAM outside a ramdisk with a clear error', async ({
    mbr,
    written,
  }) => {
    const { uuids, installBootloader } = await written(mbr, 'uefi.raw');
    expect(uuids['root uuid']).toBe('0x1a2b3c4d');
    const done = await installBootloader({
      root_uuid: uuids['root uuid'],
      efi_system_part_uuid: uuids['efi system partition uuid'],
      target_boot_mode: 'uefi',
    });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('CommandExecutionError');
    expect(done.command_error.details).toContain('Refusing to change this machine');
    expect(done.command_error.details).toContain('\\EFI\\BOOT\\BOOTX64.EFI');
  });

  it('reports an ignored failure as success when ignore_bootloader_failure is set', async ({ mbr, written }) => {
    const { installBootloader } = await written(mbr, 'uefi-ignored.raw');
    const done = await installBootloader({ root_uuid: '0x1a2b3c4d', target_boot_mode: 'uefi', ignore_bootloader_failure: true });
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result.action).toBe('none');
    expect(done.command_result.ignored_error).toContain('Refusing to change this machine');
  });

  it.skipIf(hostBootedInUefi)(
    'leaves NVRAM alone for a UEFI target when the agent booted in BIOS mode, and succeeds for a GPT image, as IPA',
    async ({ gpt, mbr, written }) => {
      const gptDisk = await written(gpt, 'uefi-target-bios-agent.raw');
      expect(gptDisk.uuids['root uuid']).toBe('0x00000000');
      for (const root_uuid of ['0x00000000', null]) {
        const done = await gptDisk.installBootloader({ root_uuid, target_boot_mode: 'uefi' });
        expect(done.command_status).toBe('SUCCEEDED');
        expect(done.command_result).toMatchObject({ boot_mode: 'uefi', action: 'none', device: gptDisk.device });
        expect(done.command_result.message).toContain('booted in BIOS mode, so no UEFI boot entries were added');
      }
      // An MBR image's disk identifier is a root UUID: IPA goes on to grub and refuses it; here the UEFI way fails.
      const mbrDisk = await written(mbr, 'uefi-target-bios-agent-mbr.raw');
      const refused = await mbrDisk.installBootloader({ root_uuid: '0x1a2b3c4d', target_boot_mode: 'uefi' });
      expect(refused.command_status).toBe('FAILED');
    },
  );

  it("fails with IPA's DeviceNotFound when the written disk has no EFI system partition", async ({ noEsp, written }) => {
    const { installBootloader } = await written(noEsp, 'no-esp.raw');
    const done = await installBootloader({ root_uuid: '0x5e6f7a8b', target_boot_mode: 'uefi' });
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('DeviceNotFound');
    // IPA's manage_uefi message, word for word.
    expect(done.command_error.details).toMatch(
      /^No EFI partition could be detected on device \/dev\/loop\d+ and EFI partition UUID has not been recorded during deployment \(which is often the case for whole disk images\)\. Are you using a UEFI-compatible image\?$/,
    );
    const byUuid = await installBootloader({
      root_uuid: '0x5e6f7a8b',
      efi_system_part_uuid: '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9',
      target_boot_mode: 'uefi',
    });
    expect(byUuid.command_error.type).toBe('DeviceNotFound');
    expect(byUuid.command_error.details).toMatch(
      /^No partition with UUID 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9 found on device \/dev\/loop\d+$/,
    );
  });

  it('answers 400 for an unknown boot mode', async ({ disks, startAgent }) => {
    const device = disks.create({ sizeMiB: 64 });
    const harness = await startAgent([device.path]);
    const response = await harness.client.post('image.install_bootloader', { root_uuid: 'x', target_boot_mode: 'legacy' });
    expect(response.status).toBe(400);
  });

  it('says so, instead of crashing, when efibootmgr is not installed', async ({ gpt, written }) => {
    const { device } = await written(gpt, 'no-efibootmgr.raw');
    const exec = (file: string, args?: readonly string[]) => run(file, args);
    const { partition } = await findEfiSystemPartition(exec, device);
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(
        registerBootEntries(exec, device, partition, [{ label: 'x', path: '\\EFI\\BOOT\\BOOTX64.EFI' }]),
      ).rejects.toThrow(/efibootmgr is not available in the ramdisk/);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
