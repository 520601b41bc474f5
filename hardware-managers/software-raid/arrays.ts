/**
 * The software RAID arrays present on the machine: from `/proc/mdstat` (every array the
 * kernel knows, active or not; outside a ramdisk only those on allow-listed disks), each
 * completed by `mdadm --detail --export` (volume name, level, member devices) and the member
 * partitions' disks (IPA's `get_holder_disks`).
 */
import { examineDevice, listBlockDevices, type BlockDevice, type StepContext } from '../../src/hardware/index.js';
import { readMdstat, type MdstatArray } from './mdstat.js';

export interface ExistingArray {
  device: string;
  /** `MD_NAME` without its `host:` prefix, as IPA's get_volume_name_of_raid_device. */
  volumeName: string | null;
  /** `MD_UUID`, as mdadm prints it (`b1022a62:e0a45820:14f39b94:fb57b1d8`). */
  uuid: string | null;
  level: string | null;
  /** Member devices (partitions or whole disks) as mdadm reports them. */
  components: string[];
  /** The whole disks the components are on. */
  holderDisks: string[];
}

/**
 * In a ramdisk, the md modules (the kernel has no /proc/mdstat before md_mod is loaded).
 * Never outside one: this machine's kernel is not the agent's to change.
 */
export async function loadMdModules(ctx: Pick<StepContext, 'exec' | 'guard'>): Promise<void> {
  if (!(await ctx.guard.inRamdisk())) return;
  await ctx.exec('modprobe', ['-a', 'md_mod', 'raid0', 'raid1', 'raid10', 'raid456'], { quiet: true }).catch(() => undefined);
}

export function parseDetailExport(stdout: string): {
  volumeName: string | null;
  uuid: string | null;
  level: string | null;
  components: string[];
} {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const name = fields.get('MD_NAME') ?? null;
  const components = [...fields.entries()]
    .filter(([key]) => /^MD_DEVICE_.+_DEV$/.test(key))
    .map(([, value]) => value)
    .sort();
  return {
    volumeName: name === null ? null : name.includes(':') ? name.slice(name.indexOf(':') + 1) : name,
    uuid: fields.get('MD_UUID') ?? null,
    level: fields.get('MD_LEVEL') ?? null,
    components,
  };
}

/** The whole disk a device is on: its parent for a partition, itself otherwise. */
function diskOf(listing: readonly BlockDevice[], device: string): string {
  for (const disk of listing) {
    if (disk.path === device) return disk.path;
    if (disk.partitions.some((p) => p.path === device)) return disk.path;
  }
  // Not in the listing (a node udev has not made yet): strip the partition number.
  return device.replace(/(\d)p\d+$/, '$1').replace(/^(\/dev\/(?:sd|vd|hd|xvd)[a-z]+)\d+$/, '$1');
}

/**
 * Every md device the kernel has, the machine's own included (outside a ramdisk listArrays
 * leaves those out): a new array must not take the name of any of them.
 */
export async function mdDevicesInUse(procRoot?: string): Promise<Set<string>> {
  return new Set((await readMdstat(procRoot)).map((entry) => `/dev/${entry.name}`));
}

/**
 * The arrays on the machine, in a ramdisk. Elsewhere (tests, the demo) only those with a
 * member on an allow-listed disk: the machine's own arrays are not even queried. One with a
 * foreign member as well is listed, so that a step can say it left it alone and why.
 */
export async function listArrays(
  ctx: Pick<StepContext, 'exec' | 'guard'>,
  listing?: readonly BlockDevice[],
  procRoot?: string,
): Promise<ExistingArray[]> {
  const inRamdisk = await ctx.guard.inRamdisk();
  const mdstat: MdstatArray[] = [];
  for (const entry of await readMdstat(procRoot)) {
    if (inRamdisk || (await anyAllowListed(ctx.guard, entry.members))) mdstat.push(entry);
  }
  if (mdstat.length === 0) return [];
  const devices = listing ?? (await listBlockDevices(ctx.exec));
  const arrays: ExistingArray[] = [];
  for (const entry of mdstat) {
    const device = `/dev/${entry.name}`;
    const { stdout } = await ctx
      .exec('mdadm', ['--detail', '--export', device], { quiet: true, okExitCodes: [0, 1, 2] })
      .catch(() => ({ stdout: '' }));
    const detail = parseDetailExport(stdout);
    // An inactive array reports no roles through --detail; the kernel's list still names them.
    const components = detail.components.length > 0 ? detail.components : entry.members.map((m) => `/dev/${m}`);
    // An inactive array (one mdadm could not start) may report no name: its members'
    // superblocks carry it (IPA's get_volume_name_of_raid_device with examine=True), read
    // from members the agent may touch, so that a kept volume is known as kept.
    let volumeName = detail.volumeName;
    for (const member of volumeName === null && entry.state === 'inactive' ? components : []) {
      if (!inRamdisk && !(await ctx.guard.isAllowListed(member))) continue;
      volumeName = (await examineDevice(ctx, member))?.volumeName ?? null;
      if (volumeName !== null) break;
    }
    arrays.push({
      device,
      volumeName,
      uuid: detail.uuid,
      level: detail.level ?? entry.personality,
      components,
      holderDisks: [...new Set(components.map((c) => diskOf(devices, c)))],
    });
  }
  return arrays;
}

async function anyAllowListed(guard: StepContext['guard'], members: readonly string[]): Promise<boolean> {
  for (const member of members) if (await guard.isAllowListed(`/dev/${member}`)) return true;
  return false;
}
