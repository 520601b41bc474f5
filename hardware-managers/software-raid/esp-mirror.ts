/**
 * The EFI system partition for a root on software RAID (IPA's
 * `raid_utils.prepare_boot_partitions_for_softraid`, UEFI branch): firmware cannot read
 * an md array, so every holder disk gets its own 550 MiB ESP (`ef00`, labelled
 * `uefi-holder-<n>`, in the gap create_configuration left at the start), mirrored as a
 * RAID-1 with metadata 1.0 (superblock at the end: each member reads as a plain FAT
 * filesystem), named `esp`. The image's own ESP (inside the md root, invisible to
 * firmware) is copied onto the mirror (esp-copy.ts: byte for byte when it fits, else its
 * files into a FAT with its UUID and label, as IPA) and its signature wiped, so only one
 * ESP is seen.
 */
import {
  describeError,
  readPartitionTable,
  rescanPartitions,
  SoftwareRAIDError,
  type StepContext,
} from '../../src/hardware/index.js';
import { listArrays, mdDevicesInUse } from './arrays.js';
import { copyImageEsp } from './esp-copy.js';
import { diskOfPartition } from './holders.js';
import { ESP_SIZE_MIB } from './partition-plan.js';

interface EspMember {
  disk: string;
  number: number;
  node: string;
}

export interface SoftwareRaidEsp {
  device: string;
  members: EspMember[];
  /** Whether the image's ESP was copied onto the mirror (else an empty FAT was made). */
  copiedFrom: string | null;
}

async function nextFreeMd(existing: ReadonlySet<string>): Promise<string> {
  for (let index = 0; index < 128; index++) {
    const name = `/dev/md${index}`;
    if (!existing.has(name)) return name;
  }
  throw new SoftwareRAIDError('No free md (RAID) devices are left');
}

async function makeEspPartition(ctx: StepContext, holder: string, index: number): Promise<EspMember> {
  const label = `uefi-holder-${index}`;
  await ctx.guard.assertWritable(holder);
  const { stdout } = await ctx.exec('sgdisk', ['-F', holder]);
  const start = stdout.trim().split('\n').pop()!.trim();
  await ctx.exec('sgdisk', ['-n', `0:${start}:+${ESP_SIZE_MIB}MiB`, '-t', '0:ef00', '-c', `0:${label}`, holder]);
  await rescanPartitions(ctx.exec, holder, true);
  const table = await readPartitionTable(ctx.exec, holder);
  const entry = table?.partitions.find((p) => p.name === label);
  if (!entry) throw new SoftwareRAIDError(`The EFI partition ${label} made on ${holder} cannot be found in its partition table`);
  return { disk: holder, number: entry.number, node: entry.node };
}

export async function prepareSoftwareRaidEsp(
  ctx: StepContext,
  rootDevice: string,
  imageEsp: string | null,
): Promise<SoftwareRaidEsp> {
  const arrays = await listArrays(ctx);
  const root = arrays.find((a) => a.device === rootDevice);
  if (!root) throw new SoftwareRAIDError(`${rootDevice} is not a software RAID device`);

  let esp = arrays.find((a) => a.volumeName === 'esp');
  let members: EspMember[];
  if (esp) {
    ctx.log.info({ device: esp.device }, 'found a RAIDed ESP; not creating another');
    members = esp.components.map((node) => {
      const number = Number(/(\d+)$/.exec(node)?.[1] ?? 0);
      return { disk: diskOfPartition(node, esp!.holderDisks) ?? node, number, node };
    });
  } else {
    members = [];
    for (const [index, holder] of root.holderDisks.entries()) members.push(await makeEspPartition(ctx, holder, index));
    for (const member of members) await ctx.guard.assertWritable(member.node);
    const device = await nextFreeMd(await mdDevicesInUse());
    try {
      await ctx.exec('mdadm', [
        '--create',
        device,
        '--force',
        '--run',
        '--metadata=1.0',
        '--level',
        '1',
        '--name',
        'esp',
        '--raid-devices',
        String(members.length),
        ...members.map((m) => m.node),
      ]);
    } catch (error) {
      throw new SoftwareRAIDError(
        `Failed to create the ESP mirror ${device} on ${members.map((m) => m.node).join(' ')}: ${describeError(error)}`,
      );
    }
    esp = {
      device,
      volumeName: 'esp',
      uuid: null,
      level: 'raid1',
      components: members.map((m) => m.node),
      holderDisks: root.holderDisks,
    };
  }

  if (imageEsp) {
    await copyImageEsp(ctx, imageEsp, esp.device);
    await ctx.exec('wipefs', ['-a', imageEsp]);
  } else {
    await ctx.exec('mkfs.vfat', ['-n', 'efi-part', esp.device]);
  }
  ctx.log.info(
    { device: esp.device, members: members.map((m) => m.node), copiedFrom: imageEsp },
    'ESP mirrored on the holder disks',
  );
  return { device: esp.device, members, copiedFrom: imageEsp };
}
