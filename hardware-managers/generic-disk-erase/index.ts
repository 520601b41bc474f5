/**
 * Disk erasure with IPA's steps, names, priorities and settings (reference §7.1, §8), plus
 * what IPA lacks: devices erased in parallel, live per-device progress, a per-device report
 * with a read-back verification, and `dry_run` to see the plan without writing.
 *
 * Written only against the public contract, like any vendor plugin.
 */
import { z } from 'zod';
import { defineHardwareManager, defineStep, HardwareSupport } from '../../src/hardware/index.js';
import { chooseExpressMethod, chooseFullEraseMethod } from './device-eraser.js';
import { runEraseStep } from './erase-step.js';
import { erasePstore } from './pstore.js';

const dryRunArgs = z.object({
  dry_run: z
    .boolean()
    .default(false)
    .describe('Return the plan (devices, methods, skipped devices with reasons) without writing anything'),
});

const eraseDevices = defineStep({
  name: 'erase_devices',
  description: 'Erase every disk: NVMe format, ATA secure erase, or shred + zero pass; verified.',
  clean: { priority: 10, interface: 'deploy', abortable: true },
  args: dryRunArgs,
  run: (ctx, { dry_run }) =>
    runEraseStep(
      ctx,
      { step: 'erase_devices', readOnly: 'skip-or-fail', choose: chooseFullEraseMethod, offerToOtherManagers: true },
      dry_run,
    ),
});

const eraseDevicesMetadata = defineStep({
  name: 'erase_devices_metadata',
  description: 'Remove partition tables and filesystem signatures from every disk; verified.',
  clean: { priority: 99, interface: 'deploy', abortable: true },
  deploy: { priority: 0, interface: 'deploy' },
  args: dryRunArgs,
  run: (ctx, { dry_run }) =>
    runEraseStep(
      ctx,
      { step: 'erase_devices_metadata', readOnly: 'skip', choose: async () => ({ method: { kind: 'metadata' }, notUsed: [] }) },
      dry_run,
    ),
});

const eraseDevicesExpress = defineStep({
  name: 'erase_devices_express',
  description: 'NVMe format where it applies, else (and after a failed format) the metadata erase, as IPA.',
  clean: { priority: 0, interface: 'deploy', abortable: true },
  args: dryRunArgs,
  run: (ctx, { dry_run }) =>
    runEraseStep(ctx, { step: 'erase_devices_express', readOnly: 'skip', choose: chooseExpressMethod }, dry_run),
});

const erasePstoreStep = defineStep({
  name: 'erase_pstore',
  description: 'Delete the kernel crash records kept in the pstore filesystem.',
  clean: { priority: 0, interface: 'deploy', abortable: true },
  run: (ctx) => erasePstore(ctx),
});

export default defineHardwareManager({
  name: 'generic_disk_erase',
  version: '1.0',
  className: 'GenericDiskEraseHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  steps: [eraseDevices, eraseDevicesMetadata, eraseDevicesExpress, erasePstoreStep],
});
