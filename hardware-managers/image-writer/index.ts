/**
 * The image writer: IPA's `write_image` deploy step and the methods behind the `standby`
 * and `image` extensions (`prepare_image`, `get_partition_uuids`, `install_bootloader`,
 * `get_os_install_device`). Written against the public contract only, like a vendor's
 * manager; a vendor may override any method by claiming higher hardware support.
 */
import { z } from 'zod';
import { defineHardwareManager, defineStep, HardwareSupport, type StepContext } from '../../src/hardware/index.js';
import { installBootloader, type InstallBootloaderParams } from './install-bootloader.js';
import { selectInstallDevice } from './install-device.js';
import { forgetLastWrite, getLastWrite } from './last-write.js';
import { writeImage } from './write-image.js';
import { DEFAULT_BIOS_BOOT_PARTITION_MB, DEFAULT_EFI_SYSTEM_PARTITION_MB } from './write-partition-image.js';

const writeImageStep = defineStep({
  name: 'write_image',
  description:
    'Download a whole-disk or partition image (raw streamed, qcow2 decoded or converted), verify its checksum and write it with the config drive.',
  // Priority 0 on the agent side: Ironic's own write_image deploy step (80) calls it in-band.
  deploy: { priority: 0, interface: 'deploy' },
  service: { priority: 0, interface: 'deploy', abortable: false },
  args: z.object({
    image_info: z
      .record(z.string(), z.unknown())
      .describe('Image description as Ironic sends it (id, urls, checksum, disk_format, ...)'),
    configdrive: z.string().nullish().describe('Config drive: base64 of a gzipped ISO labelled config-2, or a URL to one'),
  }),
  async run(ctx, args) {
    const written = await writeImage(ctx, args.image_info, args.configdrive);
    // IPA's write_image step returns prepare_image's command result, {"result": "prepare_image:
    // <message>"}: the same key here, beside what the write measured.
    return { result: `prepare_image: ${written.message}`, ...written };
  },
});

export default defineHardwareManager({
  name: 'image_writer_hardware_manager',
  version: '1.0',
  className: 'ImageWriterHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  // IPA's [disk_utils] options of the same names: the partition image layout's ESP and BIOS
  // boot partition sizes in MiB.
  settings: z.object({
    efi_system_partition_size: z.number().int().positive().default(DEFAULT_EFI_SYSTEM_PARTITION_MB),
    bios_boot_partition_size: z.number().int().positive().default(DEFAULT_BIOS_BOOT_PARTITION_MB),
  }),
  initialize() {
    forgetLastWrite();
  },
  steps: [writeImageStep],
  methods: {
    prepare_image: (ctx: StepContext, imageInfo: unknown, configdrive?: string | null) => writeImage(ctx, imageInfo, configdrive),
    get_partition_uuids: () => getLastWrite()?.partitionUuids ?? {},
    install_bootloader: (ctx: StepContext, params: InstallBootloaderParams) => installBootloader(ctx, params),
    get_os_install_device: async (ctx: StepContext) => (await selectInstallDevice(ctx)).path,
  },
});
