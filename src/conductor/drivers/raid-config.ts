/**
 * `common/raid.py::validate_configuration` over `drivers/raid_config_schema.json`
 * (reference §1.6), as a zod schema with Ironic's error texts.
 */
import { z } from 'zod';
import { InvalidParameterValue } from '../errors.js';

const logicalDisk = z
  .strictObject({
    raid_level: z.enum(['JBOD', '0', '1', '2', '5', '6', '1+0', '5+0', '6+0']),
    size_gb: z.union([z.int().min(0), z.literal('MAX')]),
    volume_name: z.string().optional(),
    is_root_volume: z.boolean().optional(),
    share_physical_disks: z.boolean().optional(),
    disk_type: z.enum(['hdd', 'ssd']).optional(),
    interface_type: z.enum(['sata', 'scsi', 'sas']).optional(),
    number_of_physical_disks: z.int().min(1).optional(),
    controller: z.string().optional(),
    physical_disks: z.array(z.unknown()).optional(),
  })
  .refine((disk) => disk.physical_disks === undefined || disk.controller !== undefined, {
    message: "'controller' is a dependency of 'physical_disks'",
  });

const raidConfigSchema = z.strictObject({ logical_disks: z.array(logicalDisk).min(1) });
export type RaidConfig = z.output<typeof raidConfigSchema>;

export function validateRaidConfiguration(raidConfig: unknown): RaidConfig {
  const parsed = raidConfigSchema.safeParse(raidConfig);
  if (!parsed.success) throw new InvalidParameterValue(`RAID config validation error: ${z.prettifyError(parsed.error)}`);
  const roots = parsed.data.logical_disks.filter((d) => d.is_root_volume).length;
  if (roots > 1) {
    throw new InvalidParameterValue(`Raid config cannot have more than one root volume. ${roots} root volumes were specified`);
  }
  return parsed.data;
}
