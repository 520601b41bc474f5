/**
 * `drivers/modules/agent.py` (2023.1, reference §5): the deploy interfaces operators pick,
 * `custom-agent` (boot the agent, the operator's steps write the image) and `direct` (the
 * agent downloads and writes the image itself).
 */
import { getCommandError } from '../agent-client.js';
import { checkConfigdrive, configdriveImage } from '../configdrive.js';
import { deployStep } from '../decorators.js';
import { setFailedState } from '../deploy-utils.js';
import { excClassAndMessage, InstanceDeployFailure, InvalidParameterValue, MissingParameterValue } from '../errors.js';
import { states, type StepReturn } from '../states.js';
import { type Step } from '../step-types.js';
import { validateDeploySteps } from '../steps.js';
import type { Task } from '../task.js';
import { isFastTrack, nodePowerAction } from '../utils.js';
import { executeStep, getClient, refreshSteps } from './agent-steps.js';
import { AgentBaseDeploy } from './agent-base.js';
import { partitionImageInfo, updateInstanceInfo, validateImageType } from './partition-image.js';

/** `custom-agent`: the agent is up and running; the operator's own steps write the image. */
export class CustomAgentDeploy extends AgentBaseDeploy {
  /** `deploy` (100): boot the agent (or, under fast track, just refresh its steps). */
  @deployStep({ priority: 100 })
  async deploy(task: Task): Promise<StepReturn> {
    if (await isFastTrack(task)) {
      await refreshSteps(task, 'deploy');
      await validateDeploySteps(task);
      return undefined;
    }
    const dii = task.node.driverInternalInfo;
    if (!dii.deployment_reboot) await nodePowerAction(task, states.REBOOT);
    delete dii.deployment_reboot;
    task.node.save();
    return states.DEPLOYWAIT;
  }

  /** `prepare_instance_boot` (60): only the boot interface's part. */
  @deployStep({ priority: 60 })
  async prepareInstanceBoot(task: Task): Promise<StepReturn> {
    await task.driver.boot.prepareInstance(task);
    return undefined;
  }
}

/** The boot mode the instance will use: `instance_info`, node capabilities, then `[deploy]default_boot_mode`. */
function getBootMode(task: Task): 'uefi' | 'bios' {
  const fromInstance = task.node.instanceInfo.deploy_boot_mode;
  if (fromInstance === 'uefi' || fromInstance === 'bios') return fromInstance;
  const caps = String(task.node.properties.capabilities ?? '');
  const match = /(?:^|,)boot_mode:(uefi|bios)(?:,|$)/.exec(caps);
  if (match) return match[1] as 'uefi' | 'bios';
  return task.conductor.conf.deploy.defaultBootMode;
}

/** `deploy_utils.is_software_raid`: a logical disk of target_raid_config says `controller: software`. */
function isSoftwareRaid(targetRaidConfig: unknown): boolean {
  const disks = (targetRaidConfig as { logical_disks?: unknown } | null | undefined)?.logical_disks;
  return Array.isArray(disks) && disks.some((d) => (d as { controller?: unknown } | null)?.controller === 'software');
}

/** `direct`: the agent downloads and writes the image itself. */
export class AgentDeploy extends CustomAgentDeploy {
  override validate(task: Task): void {
    const info = task.node.instanceInfo;
    if (!info.image_source) {
      throw new MissingParameterValue(`Node ${task.node.uuid} is missing some fields: instance_info.image_source`);
    }
    const hasChecksum = !!info.image_checksum || (!!info.image_os_hash_algo && !!info.image_os_hash_value);
    if (!hasChecksum) {
      throw new InvalidParameterValue(
        `image_source's "image_checksum" or "image_os_hash_algo" and "image_os_hash_value" must be provided in instance_info for node ${task.node.uuid}`,
      );
    }
    validateImageType(info);
  }

  /** AgentDeploy.prepare: `_update_instance_info` (image type, a partition image's layout) before the agent boots. */
  override async prepare(task: Task): Promise<void> {
    if (task.node.provisionState === states.DEPLOYING) {
      updateInstanceInfo(task);
      checkConfigdrive(task.node);
    }
    await super.prepare(task);
  }

  /** `write_image` (80): hand the image to the agent's `deploy.write_image`. */
  @deployStep({ priority: 80 })
  async writeImage(task: Task): Promise<StepReturn> {
    const info = task.node.instanceInfo;
    const source = String(info.image_source);
    // A dict config drive is built into the gzipped, base64-encoded ISO the agent takes.
    const configdrive = await configdriveImage(task.node);
    const imageInfo: Record<string, unknown> = {
      id: source.split('/').pop() ?? source,
      urls: [info.image_url ?? source],
      // Ironic sends None when instance_info has no image_disk_format, and the agent then
      // inspects the image: defaulting to "raw" would stream a qcow2 onto the disk as is.
      disk_format: info.image_disk_format ?? null,
      container_format: info.image_container_format ?? 'bare',
      stream_raw_images: task.conductor.conf.agent.streamRawImages,
      node_uuid: task.node.uuid,
    };
    if (task.node.driverInternalInfo.is_whole_disk_image === false)
      Object.assign(imageInfo, partitionImageInfo(task, getBootMode(task)));
    if (info.image_checksum) imageInfo.checksum = info.image_checksum;
    if (info.image_os_hash_algo) imageInfo.os_hash_algo = info.image_os_hash_algo;
    if (info.image_os_hash_value) imageInfo.os_hash_value = info.image_os_hash_value;
    if (configdrive) imageInfo.configdrive = configdrive;
    // driver_info image_http_proxy / image_https_proxy / image_no_proxy, as Ironic passes them.
    const driverInfo = task.node.driverInfo;
    const proxies: Record<string, string> = {};
    for (const scheme of ['http', 'https']) {
      const proxy = driverInfo[`image_${scheme}_proxy`];
      if (proxy) proxies[scheme] = String(proxy);
    }
    if (Object.keys(proxies).length > 0) {
      imageInfo.proxies = proxies;
      if (driverInfo.image_no_proxy !== undefined && driverInfo.image_no_proxy !== null)
        imageInfo.no_proxy = driverInfo.image_no_proxy;
    }
    const step: Step = {
      interface: 'deploy',
      step: 'write_image',
      priority: 80,
      args: { image_info: imageInfo, configdrive },
    };
    return executeStep(task, step, 'deploy');
  }

  /** `prepare_instance_boot` (60): partition UUIDs, bootloader when needed, boot from disk. */
  @deployStep({ priority: 60 })
  override async prepareInstanceBoot(task: Task): Promise<StepReturn> {
    const node = task.node;
    try {
      const client = getClient(task);
      const uuids = (await client.getPartitionUuids(node)).command_result ?? {};
      const rootUuid = (uuids['root uuid'] as string | undefined) || null;
      // Ironic keeps the root_uuid_or_disk_id it had when the agent reports none.
      if (rootUuid) node.driverInternalInfo.root_uuid_or_disk_id = rootUuid;
      // prepare() set it (Ironic's _update_instance_info); a whole-disk image unless it said otherwise.
      const wholeDisk = node.driverInternalInfo.is_whole_disk_image !== false;
      node.driverInternalInfo.is_whole_disk_image = wholeDisk;
      node.save();
      const bootMode = getBootMode(task);
      // As AgentDeploy.prepare_instance_boot: the ESP's UUID only for a partition image in UEFI
      // mode (a whole-disk image's ESP is the agent's to find), the PReP partition's only when
      // the node's properties cpu_arch is ppc64*.
      const efiUuid =
        !wholeDisk && bootMode === 'uefi' ? ((uuids['efi system partition uuid'] as string | undefined) ?? null) : null;
      const cpuArch = node.properties.cpu_arch;
      const prepUuid =
        typeof cpuArch === 'string' && cpuArch.startsWith('ppc64')
          ? ((uuids['PReP Boot partition uuid'] as string | undefined) ?? null)
          : null;
      if (task.conductor.conf.agent.manageAgentBoot) {
        // configure_local_boot: a software RAID root needs the bootloader in either boot mode
        // (grub on every holder disk in BIOS mode, an ESP per holder in UEFI mode); a
        // partition image's root (the root UUID get_partition_uuids gave) in either too;
        // other whole-disk images only in UEFI mode. For software RAID Ironic takes the root
        // UUID from instance_info image_rootfs_uuid, then Glance's rootfs_uuid (there is no
        // Glance here), then the disk identifier the agent reported.
        const softwareRaid = isSoftwareRaid(node.targetRaidConfig);
        if (softwareRaid || (rootUuid && !wholeDisk) || (wholeDisk && bootMode === 'uefi')) {
          const imageRootfsUuid = node.instanceInfo.image_rootfs_uuid;
          const result = await client.installBootloader(node, {
            rootUuid: softwareRaid && typeof imageRootfsUuid === 'string' && imageRootfsUuid ? imageRootfsUuid : rootUuid,
            targetBootMode: bootMode,
            efiSystemPartUuid: efiUuid,
            prepBootPartUuid: prepUuid,
            softwareRaid,
          });
          if (result.command_status === 'FAILED') {
            throw new InstanceDeployFailure(
              `Failed to install a bootloader when deploying node ${node.uuid}: ${getCommandError(result)}`,
            );
          }
        }
        await task.driver.management.setBootDevice(task, 'disk', true);
        await task.driver.boot.prepareInstance(task);
      }
    } catch (error) {
      const [, msg] = excClassAndMessage(error);
      const text = msg.includes('deploy.prepare_instance_boot') ? msg : `Deploy step deploy.prepare_instance_boot failed: ${msg}`;
      await setFailedState(task, text);
      throw new InstanceDeployFailure(text);
    }
    return undefined;
  }
}
