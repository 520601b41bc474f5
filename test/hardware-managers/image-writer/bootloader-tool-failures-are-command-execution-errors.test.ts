/**
 * A tool that fails while install_bootloader runs reaches Ironic as IPA reports it: a
 * CommandExecutionError carrying IPA's sentence (manage_uefi's 'Could not configure UEFI boot
 * on device ...', _install_grub2's 'Installing GRUB2 boot loader to device ... failed with
 * ...'), not an error type IPA never sends. The install device is a software RAID root the
 * image was written to; its partition table cannot be read: sfdisk answers as it does for a
 * device that went away (its message captured on this machine). Nothing runs for real.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { installBootloader } from '../../../hardware-managers/image-writer/install-bootloader.js';
import { forgetLastWrite, recordLastWrite } from '../../../hardware-managers/image-writer/last-write.js';
import { ExecError } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';

const MD = '/dev/md9';

function context() {
  return createFakeStepContext({
    phase: 'deploy',
    allowDevices: [MD],
    settings: { enableBiosBootloaderInstall: true },
    dispatch: (method) => {
      if (method === 'prepare_software_raid_bios_boot') return { holders: ['/dev/sdy', '/dev/sdz'], biosBootPartitions: [] };
      throw new Error(`unexpected dispatch ${method}`);
    },
    exec: (file, args) => {
      if (file === 'sfdisk') {
        throw new ExecError({
          command: `sfdisk ${args.join(' ')}`,
          exitCode: 1,
          stderr: `sfdisk: cannot open ${MD}: No such file or directory`,
          reason: 'exit',
        });
      }
      return {};
    },
  }).ctx;
}

describe('install_bootloader when a tool fails', () => {
  afterEach(() => forgetLastWrite());

  it("reports a failed tool in UEFI mode as IPA's manage_uefi does", async () => {
    recordLastWrite({ imageId: 'img', device: MD, partitionUuids: { 'root uuid': '0x1a2b3c4d' } });
    const error = await installBootloader(context(), { root_uuid: '0x1a2b3c4d', target_boot_mode: 'uefi' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ type: 'CommandExecutionError' });
    expect((error as { details: string }).details).toBe(
      `Could not configure UEFI boot on device ${MD}: sfdisk --json ${MD} exited with code 1: sfdisk: cannot open ${MD}: No such file or directory`,
    );
  });

  it("reports a failed tool in BIOS mode as IPA's _install_grub2 does", async () => {
    recordLastWrite({ imageId: 'img', device: MD, partitionUuids: { 'root uuid': '0x1a2b3c4d' } });
    const error = await installBootloader(context(), {
      root_uuid: '5b0f7a52-9c8e-4f55-8a59-1f0f0e0c2d11',
      target_boot_mode: 'bios',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'CommandExecutionError' });
    expect((error as { details: string }).details).toBe(
      `Installing GRUB2 boot loader to device ${MD} failed with sfdisk --json ${MD} exited with code 1: sfdisk: cannot open ${MD}: No such file or directory.`,
    );
  });
});
