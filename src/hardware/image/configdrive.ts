/**
 * The config drive (reference §14.8): Ironic sends a gzipped, base64-encoded ISO9660
 * image labelled `config-2` (or a URL to one). It is written to a partition at the end of
 * the disk (an existing `config-2` partition is reused), GPT (sgdisk) or MBR (sfdisk, keeping the disk signature) as the image has it,
 * where cloud-init finds it with `blkid -L config-2`.
 */
import buffer from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { ConfigDriveTooLargeError, ConfigDriveWriteError, DeploymentError, isIpaError } from '../errors.js';
import { ExecError } from '../exec.js';
import type { Exec } from '../step-context.js';
import {
  probeFilesystemAt,
  readPartitionTable,
  rescanPartitions,
  type PartitionEntry,
  type PartitionTable,
} from './disk-layout.js';
import { isHttpUrl } from './image-info.js';

export const MAX_CONFIG_DRIVE_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;
/** MBR cannot address beyond 2 TiB: the partition goes just below that limit on bigger disks. */
const MBR_LIMIT_MIB = 2 * 1024 * 1024;
const CONFIG_DRIVE_LABEL = 'config-2';
/** IPA's 64 MiB config drive partition. */
const CONFIG_DRIVE_PARTITION_BYTES = 64 * MIB;

/**
 * Decoded config drive bytes from Ironic's value (base64 of gzip, or a URL to that or to raw bytes).
 * `maxBytes`: IPA's 64 MiB cap (create_config_drive_partition) for a whole-disk image, whose
 * config drive goes into a 64 MiB partition; a partition image's config drive partition is made
 * its size (work_on_disk's configdrive_mb), so it has none (`null`): the layout must fit the disk.
 */
export async function loadConfigDrive(
  value: string,
  fetchBytes: (url: string) => Promise<Buffer>,
  maxBytes: number | null = MAX_CONFIG_DRIVE_BYTES,
): Promise<Buffer> {
  const data = isHttpUrl(value) ? await fetchBytes(value) : Buffer.from(value, 'base64');
  let payload = data;
  if (isHttpUrl(value)) {
    // A URL may hold the base64 text (as Ironic stores it) or the binary image itself.
    const text = data.toString('latin1').trim();
    if (/^[A-Za-z0-9+/=\s]+$/.test(text)) payload = Buffer.from(text, 'base64');
  }
  if (payload.length >= 2 && payload[0] === 0x1f && payload[1] === 0x8b) {
    // zlib takes no limit above the largest Buffer (4 GiB): a disk-sized limit is clamped to it.
    const limit = Math.min(maxBytes ?? buffer.constants.MAX_LENGTH, buffer.constants.MAX_LENGTH);
    try {
      payload = gunzipSync(payload, { maxOutputLength: limit });
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ||
        /Cannot create a Buffer larger|Memory limit|too large/i.test(String(error))
      ) {
        throw new ConfigDriveTooLargeError('configdrive', limit + 1);
      }
      throw new DeploymentError(`The config drive is not valid gzip data: ${(error as Error).message}`);
    }
  }
  if (payload.length === 0) throw new DeploymentError('The config drive is empty');
  if (maxBytes !== null && payload.length > maxBytes) throw new ConfigDriveTooLargeError('configdrive', payload.length);
  return payload;
}

export interface ConfigDrivePlacement {
  partition: PartitionEntry;
  table: PartitionTable;
  reused: boolean;
}

/** Writes the config drive onto `device`'s config-2 partition, creating it at the disk's end when absent. */
export async function writeConfigDrive(
  exec: Exec,
  device: string,
  isBlockDevice: boolean,
  diskBytes: number,
  image: Buffer,
): Promise<ConfigDrivePlacement> {
  const before = await readPartitionTable(exec, device);
  if (!before) throw new DeploymentError(`No partition table found on ${device}; cannot add a config drive partition`);

  let partition = await findLabelledPartition(exec, device, before, CONFIG_DRIVE_LABEL);
  const reused = partition !== undefined;
  if (!partition) {
    await createPartitionAtEnd(exec, device, before, diskBytes);
    await rescanPartitions(exec, device, isBlockDevice);
    const after = await readPartitionTable(exec, device);
    const known = new Set(before.partitions.map((p) => p.number));
    partition = after?.partitions.find((p) => !known.has(p.number));
    if (!after || !partition) throw new DeploymentError(`Creating the config drive partition on ${device} left no new partition`);
  }
  if (image.length > partition.sizeBytes) throw new ConfigDriveTooLargeError(partition.node, image.length);

  const handle = await open(device, 'r+');
  try {
    // Zero the partition's head first: a shorter ISO must not leave an older one's superblock behind.
    await handle.write(
      Buffer.alloc(Math.min(partition.sizeBytes, MIB)),
      0,
      Math.min(partition.sizeBytes, MIB),
      partition.startBytes,
    );
    await handle.write(image, 0, image.length, partition.startBytes);
    await handle.datasync();
  } catch (error) {
    throw new ConfigDriveWriteError(partition.node, (error as NodeJS.ErrnoException).code ?? 'EIO', '', (error as Error).message);
  } finally {
    await handle.close();
  }
  await rescanPartitions(exec, device, isBlockDevice);
  const label = (await probeFilesystemAt(exec, device, partition.startBytes)).LABEL;
  if (label !== CONFIG_DRIVE_LABEL) {
    throw new DeploymentError(
      `The config drive written to ${partition.node} is not labelled ${CONFIG_DRIVE_LABEL} (found ${label ? `"${label}"` : 'no label'}); ` +
        'Ironic must send an ISO9660 or VFAT image labelled config-2',
    );
  }
  const table = (await readPartitionTable(exec, device)) ?? before;
  return { partition, table, reused };
}

async function findLabelledPartition(
  exec: Exec,
  device: string,
  table: PartitionTable,
  label: string,
): Promise<PartitionEntry | undefined> {
  for (const partition of table.partitions) {
    if ((await probeFilesystemAt(exec, device, partition.startBytes)).LABEL === label) return partition;
  }
  return undefined;
}

async function createPartitionAtEnd(exec: Exec, device: string, table: PartitionTable, diskBytes: number): Promise<void> {
  try {
    if (table.label === 'gpt') {
      await exec('sgdisk', ['-n', '0:-64MB:0', '-u', `0:${randomUUID()}`, device]);
      return;
    }
    const primaries = table.partitions.filter((p) => p.number <= 4).length;
    if (primaries >= 4) {
      throw new DeploymentError(`Config drive cannot be created on ${device}: the MBR already has 4 primary partitions`);
    }
    // sfdisk --append keeps the MBR disk signature (parted replaces it, which breaks images
    // that find their disk by it: root=PARTUUID=<signature>-NN, Windows' BCD).
    const sector = table.sectorSize;
    const limitBytes = Math.min(diskBytes, MBR_LIMIT_MIB * MIB);
    const startBytes = Math.floor((limitBytes - CONFIG_DRIVE_PARTITION_BYTES - MIB) / MIB) * MIB;
    const lastEnd = Math.max(0, ...table.partitions.map((p) => p.startBytes + p.sizeBytes));
    if (startBytes < lastEnd) {
      throw new DeploymentError(`Config drive cannot be created on ${device}: no free space for it after the last partition`);
    }
    await exec('sfdisk', ['--append', '--no-reread', '--no-tell-kernel', '-q', device], {
      input: `start=${startBytes / sector}, size=${CONFIG_DRIVE_PARTITION_BYTES / sector}, type=c\n`,
    });
  } catch (error) {
    if (isIpaError(error) && !(error instanceof ExecError)) throw error;
    const exec_ = error instanceof ExecError ? error : undefined;
    throw new ConfigDriveWriteError(device, exec_?.exitCode ?? 'unknown', exec_?.stdout ?? '', exec_?.stderr ?? String(error));
  }
}
