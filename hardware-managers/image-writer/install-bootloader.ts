/**
 * IPA's `image.install_bootloader` (reference §14.9). In UEFI mode, NVRAM boot entries for
 * the loaders found on the written disk's EFI system partition (a whole-disk image's own).
 * In BIOS mode, as IPA: without a root UUID (or `0x00000000`) the whole-disk image carries
 * its own boot code and there is nothing to do; with one, grub-install runs only when
 * `enable_bios_bootloader_install` is set (IPA's CVE-2026-43003 mitigation, off by default:
 * IPA's option help names partition images as what it re-enables, and IPA applies it to
 * every grub-install, so a partition image's root is gated as a software RAID root is),
 * else the image is refused. With it set, a software RAID root gets grub on every holder
 * disk (bios-grub.ts); a root on a plain disk (Ironic sends the root partition's UUID after
 * writing a partition image) gets it on that disk, from the partition the UUID names
 * (partition-grub.ts), and fails with IPA's DeviceNotFound when no partition has it (a
 * whole-disk image's disk identifier: Ironic only sends one in BIOS mode for software RAID).
 * UEFI for a partition image's root is refused with what is supported (see refuseUefiPartitionRoot).
 * The way is chosen by `target_boot_mode` (the ramdisk's own mode when Ironic sends none).
 * IPA writes NVRAM whenever the ramdisk booted in UEFI mode, whatever the target; here a
 * BIOS target (a software RAID root or a partition image) takes the grub path, as IPA's way
 * would put ESPs on holders partitioned for BIOS. A UEFI target on a ramdisk booted in BIOS
 * mode is, as in IPA, done without NVRAM for a whole-disk image without a root UUID.
 */
import {
  bootedInUefi,
  DEFAULT_HARDWARE_SETTINGS,
  findEfiLoaders,
  findEfiSystemPartition,
  CommandExecutionError,
  ExecError,
  InvalidImage,
  registerBootEntries,
  isIpaError,
  type EfiLoader,
  type PartitionEntry,
  type StepContext,
} from '../../src/hardware/index.js';
import { installGrubOnSoftwareRaid } from './bios-grub.js';
import { installGrubOnPartitionRoot, partitionNamedBy } from './partition-grub.js';
import { selectInstallDevice } from './install-device.js';
import { getLastWrite } from './last-write.js';

export interface InstallBootloaderParams {
  root_uuid?: string | null | undefined;
  efi_system_part_uuid?: string | null | undefined;
  prep_boot_part_uuid?: string | null | undefined;
  target_boot_mode?: string | null | undefined;
  ignore_bootloader_failure?: boolean | null | undefined;
}

export interface InstallBootloaderResult {
  boot_mode: 'uefi' | 'bios';
  device: string;
  action: 'uefi-boot-entries' | 'grub-install' | 'none';
  efi_system_partition?: string;
  /** BIOS grub: the disks grub was installed on (every holder of a software RAID root). */
  grub_disks?: string[];
  /** BIOS grub: the image's root partition grub-install and grub-mkconfig ran from. */
  root_partition?: string;
  boot_entries?: { label: string; path: string }[];
  /** Set when a failure was ignored (`ignore_bootloader_failure`). */
  ignored_error?: string;
  message: string;
}

export async function installBootloader(ctx: StepContext, params: InstallBootloaderParams): Promise<InstallBootloaderResult> {
  const settings = ctx.settings ?? DEFAULT_HARDWARE_SETTINGS;
  const ignoreFailure = params.ignore_bootloader_failure ?? settings.ignoreBootloaderFailure ?? false;
  const device = getLastWrite()?.device ?? (await selectInstallDevice(ctx)).path;
  const booted = (await bootedInUefi()) ? 'uefi' : 'bios';
  const uefi = params.target_boot_mode === 'uefi' || (params.target_boot_mode == null && booted === 'uefi');

  if (!uefi) return installBios(ctx, device, params.root_uuid, ignoreFailure);
  if (booted === 'bios' && isWholeDiskWithoutRootUuid(params.root_uuid)) {
    // IPA's _efi_boot_setup writes NVRAM only when the ramdisk itself booted in UEFI mode:
    // otherwise it warns of the mismatch and a whole-disk image without a root UUID (a GPT
    // image: its firmware finds \EFI\BOOT\BOOTX64.EFI by itself) is done. An MBR image's
    // disk identifier, or a software RAID root, still goes the UEFI way and fails there.
    ctx.log.warn(
      { device, target: 'uefi', current: booted },
      'Boot mode mismatch: target boot mode is uefi, current boot mode is bios. Installing boot loader may fail or work incorrectly.',
    );
    return {
      boot_mode: 'uefi',
      device,
      action: 'none',
      message:
        `The agent booted in BIOS mode, so no UEFI boot entries were added for the whole-disk image on ${device} ` +
        '(target boot mode uefi); it boots through its removable-media loader',
    };
  }
  try {
    if (!/^\/dev\/md/.test(device) && !isWholeDiskWithoutRootUuid(params.root_uuid)) {
      await refuseUefiPartitionRoot(ctx, device, params.root_uuid);
    }
    const { partition } = await findEfiSystemPartition(ctx.exec, device, params.efi_system_part_uuid);
    const loaders = await findEfiLoaders(ctx.exec, device, partition);
    if (loaders.length === 0) {
      throw new CommandExecutionError(
        `No EFI bootloader (BOOTX64.CSV, shim, grub or \\EFI\\BOOT\\BOOTX64.EFI) found on ${partition.node}`,
      );
    }
    if (/^\/dev\/md/.test(device)) return await installOnSoftwareRaid(ctx, device, partition, loaders);
    // efibootmgr -w may write a disk signature: it is a write to the disk.
    await ctx.guard.assertWritable(device);
    if (!(await ctx.guard.inRamdisk())) {
      // NVRAM belongs to the machine the agent runs on; outside a ramdisk that is a
      // developer's or CI host, whose boot entries no allow-listed disk makes ours.
      throw new CommandExecutionError(
        `Refusing to change this machine's UEFI boot entries outside a ramdisk (would add ${loaders.map((l) => `${l.label} ${l.path}`).join(', ')} for ${partition.node})`,
      );
    }
    await registerBootEntries(ctx.exec, device, partition, loaders);
    ctx.log.info({ device, esp: partition.node, loaders }, 'UEFI boot entries added');
    return {
      boot_mode: 'uefi',
      device,
      action: 'uefi-boot-entries',
      efi_system_partition: partition.node,
      boot_entries: loaders,
      message: `Added UEFI boot entries ${loaders.map((l) => `${l.label} (${l.path})`).join(', ')} for ${partition.node}`,
    };
  } catch (error) {
    return failedInstall(
      ctx,
      'uefi',
      device,
      error,
      ignoreFailure,
      (reason) => `Could not configure UEFI boot on device ${device}: ${reason}`,
    );
  }
}

/** IPA: "We don't have a working root UUID detection for whole disk images". */
function isWholeDiskWithoutRootUuid(rootUuid: string | null | undefined): rootUuid is null | undefined | '0x00000000' {
  return rootUuid == null || rootUuid === '0x00000000';
}

/**
 * UEFI for a partition image's root (the root UUID names a partition of a plain disk: a
 * whole-disk image's root UUID is its disk identifier). write_image made its ESP empty, so
 * IPA's manage_uefi finds no loader and IPA goes on to `_install_grub2` with the ESP mounted
 * at /boot/efi: it copies the image's /boot/efi/EFI assets there, or runs the image's
 * grub-install for UEFI (and again with --removable), then NVRAM entries. That path cannot
 * be tried for real here (the hosts that build and test this have no grub-efi), so it is
 * refused with what works, after IPA's enable_bios_bootloader_install gate as IPA orders them.
 */
async function refuseUefiPartitionRoot(ctx: StepContext, device: string, rootUuid: string): Promise<void> {
  const root = await partitionNamedBy(ctx, device, rootUuid);
  if (!root) return;
  if (!(ctx.settings ?? DEFAULT_HARDWARE_SETTINGS).enableBiosBootloaderInstall) throw new InvalidImage(BIOS_INSTALL_DISABLED);
  throw new CommandExecutionError(
    `UEFI boot of a partition image is not supported: root UUID ${rootUuid} is partition ${root.node} of ${device}, ` +
      "whose EFI system partition holds no loader, and this agent does not install the image's grub for UEFI. " +
      'Partition images are supported in BIOS mode (grub-install onto the disk, with enable_bios_bootloader_install); ' +
      'for UEFI deploy a whole-disk image that carries its own EFI system partition.',
  );
}

/** IPA's refusal of grub-install (also raised by write_image for a partition image: write-partition-image.ts). */
export const BIOS_INSTALL_DISABLED =
  'Install of legacy BIOS bootloaders disabled by CONF.enable_bios_bootloader_install as part of CVE-2026-43003 mitigation.';

async function installBios(
  ctx: StepContext,
  device: string,
  rootUuid: string | null | undefined,
  ignoreFailure: boolean,
): Promise<InstallBootloaderResult> {
  if (isWholeDiskWithoutRootUuid(rootUuid)) {
    return {
      boot_mode: 'bios',
      device,
      action: 'none',
      message: `Whole-disk image on ${device} boots in BIOS mode with its own boot code; no bootloader to install`,
    };
  }
  try {
    if (!(ctx.settings ?? DEFAULT_HARDWARE_SETTINGS).enableBiosBootloaderInstall) throw new InvalidImage(BIOS_INSTALL_DISABLED);
    if (!/^\/dev\/md/.test(device)) {
      const grub = await installGrubOnPartitionRoot(ctx, device, rootUuid);
      return {
        boot_mode: 'bios',
        device,
        action: 'grub-install',
        grub_disks: [device],
        root_partition: grub.rootPartition,
        message: `Installed ${grub.grub} from the image's root ${grub.rootPartition} on ${device}`,
      };
    }
    const grub = await installGrubOnSoftwareRaid(ctx, device, rootUuid);
    return {
      boot_mode: 'bios',
      device,
      action: 'grub-install',
      grub_disks: grub.holders,
      root_partition: grub.rootPartition,
      message: `Installed ${grub.grub} from the image on ${grub.rootPartition} on every holder disk of ${device}: ${grub.holders.join(', ')}`,
    };
  } catch (error) {
    return failedInstall(
      ctx,
      'bios',
      device,
      error,
      ignoreFailure,
      (reason) => `Installing GRUB2 boot loader to device ${device} failed with ${reason}.`,
    );
  }
}

/**
 * IPA's `ignore_bootloader_failure`: a failed install is rethrown, or logged and reported as
 * skipped. Agent errors go as they are; a tool that failed (ExecError, IPA's
 * ProcessExecutionError) and anything else become CommandExecutionError with IPA's `message`
 * (manage_uefi's, _install_grub2's), as IPA wraps them.
 */
function failedInstall(
  ctx: StepContext,
  bootMode: 'uefi' | 'bios',
  device: string,
  error: unknown,
  ignoreFailure: boolean,
  message: (reason: string) => string,
): InstallBootloaderResult {
  const reason = isIpaError(error) ? error.details : (error as Error).message;
  if (!ignoreFailure) {
    throw isIpaError(error) && !(error instanceof ExecError) ? error : new CommandExecutionError(message(reason));
  }
  ctx.log.warn({ device, err: reason }, 'bootloader installation failed; ignored as requested');
  return {
    boot_mode: bootMode,
    device,
    action: 'none',
    ignored_error: reason,
    message: `Bootloader installation failed and was ignored: ${reason}`,
  };
}

/**
 * A whole-disk image on a software RAID root (IPA's manage_uefi for md devices): firmware
 * cannot read the array, so the software RAID manager mirrors the image's ESP onto an ESP
 * on every holder disk, and each of those gets the boot entries, labelled
 * `<label> (RAID, part<i>)` as IPA does so they do not replace each other.
 */
async function installOnSoftwareRaid(
  ctx: StepContext,
  device: string,
  imageEsp: PartitionEntry,
  loaders: EfiLoader[],
): Promise<InstallBootloaderResult> {
  const esp = await ctx.dispatch('prepare_software_raid_esp', ctx, device, imageEsp.node);
  if (!(await ctx.guard.inRamdisk())) {
    throw new CommandExecutionError(
      `Refusing to change this machine's UEFI boot entries outside a ramdisk (the ESP of ${device} is mirrored on ${esp.members.map((m) => m.node).join(', ')} as ${esp.device})`,
    );
  }
  const entries: { label: string; path: string }[] = [];
  for (const [index, member] of esp.members.entries()) {
    await ctx.guard.assertWritable(member.disk);
    const labelled = loaders.map((l) => ({ ...l, label: `${l.label} (RAID, part${index})` }));
    await registerBootEntries(ctx.exec, member.disk, { ...imageEsp, number: member.number, node: member.node }, labelled);
    entries.push(...labelled);
  }
  ctx.log.info({ device, esp: esp.device, members: esp.members }, 'UEFI boot entries added on every software RAID holder');
  return {
    boot_mode: 'uefi',
    device,
    action: 'uefi-boot-entries',
    efi_system_partition: esp.device,
    boot_entries: entries,
    message: `Mirrored the ESP as ${esp.device} on ${esp.members.map((m) => m.node).join(', ')} and added UEFI boot entries ${entries.map((e) => `${e.label} (${e.path})`).join(', ')}`,
  };
}
