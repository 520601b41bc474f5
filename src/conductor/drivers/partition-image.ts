/**
 * Partition images on the `direct` deploy interface, as Ironic 2023.1 handles a non-Glance
 * image: `images.is_whole_disk_image` (instance_info `image_type`, else a partition image
 * when instance_info names a kernel or ramdisk), `deploy_utils.parse_instance_info` with
 * `_validate_layout_properties` (root_gb required; root_mb, swap_mb, ephemeral_mb and
 * ephemeral_format worked out and kept in instance_info, as `build_instance_info_for_deploy`
 * does at prepare), and the fields AgentDeploy.write_image adds to image_info for them
 * (`PARTITION_IMAGE_LABELS`, `deploy_boot_mode`, `boot_option`, `disk_label`).
 * Glance is not here, so its image properties (img_type, kernel_id) play no part.
 */
import { InvalidParameterValue, MissingParameterValue } from '../errors.js';
import type { Task } from '../task.js';

const VALID_IMAGE_TYPES = ['partition', 'whole-disk'];
/** Ironic's `[pxe]default_ephemeral_format`. */
const DEFAULT_EPHEMERAL_FORMAT = 'ext4';
const PARTITION_IMAGE_LABELS = [
  'kernel',
  'ramdisk',
  'root_gb',
  'root_mb',
  'swap_mb',
  'ephemeral_mb',
  'ephemeral_format',
  'configdrive',
  'preserve_ephemeral',
  'image_type',
  'deploy_boot_mode',
] as const;

/** AgentDeploy.validate: an `image_type` Ironic does not know is refused. */
export function validateImageType(info: Record<string, unknown>): void {
  const type = info.image_type;
  if (type && !VALID_IMAGE_TYPES.includes(String(type))) {
    throw new InvalidParameterValue(`Invalid image_type "${String(type)}", valid are ${VALID_IMAGE_TYPES.join(', ')}`);
  }
}

/** `images.is_whole_disk_image` for an image that is not in Glance. */
function isWholeDiskImage(info: Record<string, unknown>): boolean {
  if (info.image_type) return info.image_type !== 'partition';
  return !info.kernel && !info.ramdisk;
}

/** Python's int() of a layout value: an int, or a string of one. */
function asInt(param: string, value: unknown): number {
  const text = String(value).trim();
  if (typeof value === 'boolean' || !/^[+-]?\d+$/.test(text)) {
    throw new InvalidParameterValue(`Invalid parameter ${param}: ${String(value)} is not an integer value.`);
  }
  return Number.parseInt(text, 10);
}

function asBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(text)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(text)) return false;
  throw new InvalidParameterValue(
    `Invalid parameter preserve_ephemeral: Unrecognized value '${String(value)}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
  );
}

/**
 * Ironic's `_update_instance_info` at prepare: the node's image type in driver_internal_info
 * and instance_info, and for a partition image its disk layout, checked and in MiB.
 */
export function updateInstanceInfo(task: Task): void {
  const node = task.node;
  const info = node.instanceInfo;
  const wholeDisk = isWholeDiskImage(info);
  node.driverInternalInfo.is_whole_disk_image = wholeDisk;
  info.image_type = wholeDisk ? 'whole-disk' : 'partition';
  if (!wholeDisk) {
    if (!info.root_gb) {
      throw new MissingParameterValue(`Some parameters were missing in node's instance_info. Missing are: ['root_gb']`);
    }
    const preserveEphemeral = asBool(info.preserve_ephemeral ?? false);
    const rootGb = asInt('root_gb', info.root_gb);
    const swapMb = asInt('swap_mb', info.swap_mb ?? 0);
    const ephemeralGb = asInt('ephemeral_gb', info.ephemeral_gb ?? 0);
    Object.assign(info, {
      root_mb: 1024 * rootGb,
      swap_mb: swapMb,
      ephemeral_mb: 1024 * ephemeralGb,
      // Ironic: `if ephemeral_gb and not ephemeral_format` — an empty string gets the default too.
      ephemeral_format: ephemeralGb && !info.ephemeral_format ? DEFAULT_EPHEMERAL_FORMAT : (info.ephemeral_format ?? null),
      preserve_ephemeral: preserveEphemeral,
    });
  }
  node.save();
}

/** `utils.parse_instance_info_capabilities`: a dict, or a JSON string of one. */
function instanceCapabilities(task: Task): Record<string, unknown> {
  const caps = task.node.instanceInfo.capabilities;
  if (caps === undefined || caps === null || caps === '') return {};
  let parsed: unknown = caps;
  if (typeof caps === 'string') {
    try {
      parsed = JSON.parse(caps);
    } catch {
      parsed = undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidParameterValue(
      `Error parsing capabilities from Node ${task.node.uuid} instance_info field. A dictionary or a "jsonified" dictionary is expected.`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** What AgentDeploy.write_image adds to image_info for a partition image. */
export function partitionImageInfo(task: Task, bootMode: 'uefi' | 'bios'): Record<string, unknown> {
  const info = task.node.instanceInfo;
  const fields: Record<string, unknown> = {};
  for (const label of PARTITION_IMAGE_LABELS) fields[label] = info[label] ?? null;
  fields.deploy_boot_mode = bootMode;
  fields.boot_option = 'local';
  // deploy_utils.get_disk_label: instance_info capabilities, else gpt for UEFI.
  const diskLabel = instanceCapabilities(task).disk_label ?? (bootMode === 'uefi' ? 'gpt' : undefined);
  if (diskLabel) fields.disk_label = diskLabel;
  return fields;
}
