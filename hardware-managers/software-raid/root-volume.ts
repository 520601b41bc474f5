/**
 * Which md device is the node's root volume (IPA's `_raid_root_device_mapping`, consulted
 * by `get_os_install_device`). IPA only remembers what this process created; here the
 * root is also found again after the ramdisk rebooted between cleaning and deploying: the
 * `is_root_volume` logical disk of `node.target_raid_config` names its array (volume name,
 * else `md<i>`), and `mdadm --detail` of each array gives its name.
 */
import type { StepContext } from '../../src/hardware/index.js';
import { listArrays } from './arrays.js';
import { volumeLabel } from './partition-plan.js';
import { ironicSchemaError, orderForPartitioning, type RaidConfig } from './raid-config.js';

/** The md device holding the root volume the last create made, if it marked one. */
let created: { root: string | undefined } | undefined;

export function recordCreatedArrays(arrays: readonly { device: string; isRootVolume: boolean | undefined }[]): void {
  created = { root: arrays.find((a) => a.isRootVolume === true)?.device };
}

export function forgetCreatedArrays(): void {
  created = undefined;
}

function rootVolumeName(config: unknown): string | undefined {
  if (ironicSchemaError(config) !== undefined) return undefined;
  const ordered = orderForPartitioning((config as RaidConfig).logical_disks);
  const index = ordered.findIndex((d) => d.is_root_volume === true && d.controller === 'software');
  return index < 0 ? undefined : volumeLabel(ordered[index]!, index);
}

/** The md device to install onto, or undefined when no software RAID root volume exists. */
export async function softwareRaidRootDevice(
  ctx: Pick<StepContext, 'exec' | 'guard' | 'node' | 'log'>,
): Promise<string | undefined> {
  const arrays = await listArrays(ctx);
  if (created?.root && arrays.some((a) => a.device === created!.root)) return created.root;
  const name = rootVolumeName(ctx.node.target_raid_config);
  if (!name) return undefined;
  const found = arrays.find((a) => a.volumeName === name)?.device;
  if (found) ctx.log.info({ device: found, volume: name }, 'software RAID root volume from target_raid_config');
  return found;
}
