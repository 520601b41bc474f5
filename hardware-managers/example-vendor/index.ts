/**
 * The example a hardware vendor copies: one folder, one default export, only the public
 * contract imported. It carries one real step, `assert_hardware`, which fails cleaning when
 * the machine does not match what the operator expects (CPU count, memory, firmware mode,
 * disks): a cheap guard against racking the wrong server or a dead DIMM going unnoticed.
 *
 * A vendor manager would return SERVICE_PROVIDER only on its own machines (see
 * `evaluateHardwareSupport`) and add steps that drive its firmware tools through `ctx.exec`.
 */
import { access, readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { z } from 'zod';
import { CleaningError, defineHardwareManager, defineStep, HardwareSupport } from '../../src/hardware/index.js';

const BYTES_PER_MIB = 1024 * 1024;
const BYTES_PER_GIB = 1024 * BYTES_PER_MIB;

async function firmwareBootMode(): Promise<'uefi' | 'bios'> {
  return access('/sys/firmware/efi').then(
    () => 'uefi',
    () => 'bios',
  );
}

const assertHardware = defineStep({
  name: 'assert_hardware',
  description: 'Fail unless the machine has at least the given resources and boot mode.',
  clean: { priority: 0, interface: 'deploy', abortable: true },
  service: { priority: 0, interface: 'deploy', abortable: true },
  args: z.object({
    min_cpus: z.number().int().positive().optional().describe('Minimum number of logical CPUs'),
    min_memory_mib: z.number().int().positive().optional().describe('Minimum RAM in MiB'),
    boot_mode: z.enum(['uefi', 'bios']).optional().describe('Required firmware boot mode'),
    min_disks: z.number().int().nonnegative().optional().describe('Minimum number of whole disks'),
    min_disk_size_gib: z
      .number()
      .positive()
      .optional()
      .describe('Each counted disk must be at least this large (GiB); smaller disks are not counted'),
  }),
  async run(ctx, args) {
    ctx.progress.update({ phase: 'collecting' });
    const observed: Record<string, unknown> = {
      cpus: cpus().length,
      memory_mib: Math.floor(totalmem() / BYTES_PER_MIB),
      boot_mode: await firmwareBootMode(),
    };
    const failures: string[] = [];
    if (args.min_cpus !== undefined && (observed.cpus as number) < args.min_cpus) {
      failures.push(`${observed.cpus} CPUs, expected at least ${args.min_cpus}`);
    }
    if (args.min_memory_mib !== undefined && (observed.memory_mib as number) < args.min_memory_mib) {
      failures.push(`${observed.memory_mib} MiB of RAM, expected at least ${args.min_memory_mib}`);
    }
    if (args.boot_mode !== undefined && observed.boot_mode !== args.boot_mode) {
      failures.push(`booted in ${observed.boot_mode} mode, expected ${args.boot_mode}`);
    }
    if (args.min_disks !== undefined) {
      const { stdout } = await ctx.exec('lsblk', ['--json', '--bytes', '--nodeps', '--output', 'NAME,SIZE,TYPE']);
      const listing = z
        .object({ blockdevices: z.array(z.object({ name: z.string(), size: z.coerce.number(), type: z.string() })) })
        .parse(JSON.parse(stdout));
      const minBytes = (args.min_disk_size_gib ?? 0) * BYTES_PER_GIB;
      const disks = listing.blockdevices.filter((d) => d.type === 'disk' && d.size >= minBytes);
      observed.disks = disks.map((d) => ({ name: d.name, size: d.size }));
      if (disks.length < args.min_disks) {
        failures.push(
          `${disks.length} disks of at least ${args.min_disk_size_gib ?? 0} GiB, expected at least ${args.min_disks}`,
        );
      }
    }
    ctx.progress.update({ phase: 'done', failures: failures.length });
    if (failures.length > 0) {
      throw new CleaningError(`Hardware does not match expectations: ${failures.join('; ')}`);
    }
    ctx.log.info({ observed }, 'hardware matches expectations');
    return { observed };
  },
});

export default defineHardwareManager({
  name: 'example_vendor_hardware_manager',
  version: '1.0',
  className: 'ExampleVendorHardwareManager',
  async evaluateHardwareSupport() {
    // A vendor claims the machine when DMI names it, winning steps of the same name over
    // the generic managers; elsewhere this example still offers its step at GENERIC level.
    const vendor = await readFile('/sys/class/dmi/id/sys_vendor', 'utf8').catch(() => '');
    return /example corp/i.test(vendor) ? HardwareSupport.SERVICE_PROVIDER : HardwareSupport.GENERIC;
  },
  steps: [assertHardware],
});
