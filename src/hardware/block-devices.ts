/**
 * Block-device discovery shared by every manager (erase, image writer, inventory): one
 * `lsblk --json --bytes` call, completed from /sys and /dev/disk where lsblk says nothing
 * (holders, by-path, loop backing files, udev's WWN extensions).
 *
 * Plain files can stand in for disks (tests, demos): `describeFileDevice` gives them the
 * same shape with type `file`.
 */
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Exec } from './exec.js';
import { LSBLK_COLUMNS, parseLsblkJson, type LsblkNode } from './lsblk.js';

export interface BlockDevice {
  /** Kernel name: `sda`, `nvme0n1`, `loop3`, `sda1` (a plain file: its path). */
  name: string;
  /** `/dev/sda` (a plain file: its absolute path). IPA calls this `name`. */
  path: string;
  /** `major:minor`, null for a plain file. */
  majMin: string | null;
  /** lsblk's TYPE: `disk`, `part`, `loop`, `rom`, `raid1`, `lvm`, `crypt`, `mpath`, ...; `file` for a plain file. */
  type: string;
  sizeBytes: number;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  wwnWithExtension: string | null;
  wwnVendorExtension: string | null;
  /**
   * Every distinct serial lsblk and udev give (lsblk's, udev's ID_SERIAL_SHORT and the long
   * ID_SERIAL), and every WWN (lsblk's, udev's ID_WWN): IPA's `all_serial_and_wwn`, which
   * root device hints match against (a hint matches when any one does). Absent on devices
   * described without udev (plain files).
   */
  allSerials?: string[];
  allWwns?: string[];
  rotational: boolean;
  /** SCSI host:channel:target:lun. */
  hctl: string | null;
  /** `/dev/disk/by-path/...` link to this device, if udev made one. */
  byPath: string | null;
  readOnly: boolean;
  removable: boolean;
  /** lsblk's TRAN: `sata`, `nvme`, `usb`, `iscsi`, ... */
  transport: string | null;
  logicalSectorSize: number;
  physicalSectorSize: number;
  fsType: string | null;
  label: string | null;
  partitionTableType: string | null;
  /** GPT type GUID or MBR type (`0x83`) of a partition. */
  partitionType: string | null;
  /** Whether discard (TRIM) guarantees zeroes on read-back (lsblk DISC-ZERO). */
  discardZeroesData: boolean;
  /** 0 when the device does not support discard at all. */
  discardGranularity: number;
  /** Non-empty mount points of this device itself (not of its partitions). */
  mountpoints: string[];
  /** Kernel names of devices stacked directly on this one (md, dm, bcache), from /sys. */
  holders: string[];
  /** Kernel name of the parent disk for a partition. */
  parent: string | null;
  /** The partitions of a whole device, in lsblk order. */
  partitions: BlockDevice[];
  /** For a loop device: the file behind it. */
  backingFile: string | null;
}

export interface ListBlockDevicesOptions {
  /** Restrict the listing to these device paths (lsblk arguments); default: all. */
  devices?: readonly string[];
  /** Roots for tests that feed captured trees. */
  sysRoot?: string;
  devRoot?: string;
  udevRoot?: string;
  /**
   * Without a udev database lsblk knows no filesystem, label or table type. `true`: read
   * them with `blkid -p` (one call per device, so off by default: inventory does not need
   * them; `listTargetDisks` probes its candidates with `probeMissingSignatures`).
   */
  probeSignatures?: boolean;
}

/**
 * Every block device lsblk knows, whole devices at the top level with their partitions
 * nested. Devices stacked on several disks (md, dm) appear once per parent in lsblk's
 * tree; here they are listed once, at the top level, and named in the parents' `holders`.
 */
export async function listBlockDevices(exec: Exec, options: ListBlockDevicesOptions = {}): Promise<BlockDevice[]> {
  const { stdout } = await exec(
    'lsblk',
    ['--json', '--bytes', '--all', '--output', LSBLK_COLUMNS.join(','), ...(options.devices ?? [])],
    { quiet: true },
  );
  const roots = parseLsblkJson(stdout);
  const sysRoot = options.sysRoot ?? '/sys';
  const extras = new SysfsExtras(sysRoot, options.devRoot ?? '/dev', options.udevRoot ?? '/run/udev/data');

  // Every node's sysfs and udev reads start at once (a few small reads per device, ~0.1 ms
  // each, were ~10 ms one after another on a host with 20 devices); the walk below keeps
  // lsblk's order and takes each result when it gets there.
  const converted = new Map<LsblkNode, Promise<BlockDevice>>();
  const convert = (node: LsblkNode): Promise<BlockDevice> => {
    let device = converted.get(node);
    if (!device) {
      device = toBlockDevice(node, extras);
      // Taken by the walk; a node the walk skips (a duplicate) must not reject unhandled.
      device.catch(() => undefined);
      converted.set(node, device);
    }
    return device;
  };
  const start = (node: LsblkNode): void => {
    void convert(node);
    node.children.forEach(start);
  };
  roots.forEach(start);

  const devices: BlockDevice[] = [];
  const seen = new Set<string>();
  const visit = async (node: LsblkNode): Promise<void> => {
    // Stacked devices sit under the disk or under one of its partitions in lsblk's tree.
    for (const child of node.children) {
      if (child.type !== 'part') await visit(child);
      else for (const stacked of child.children) await visit(stacked);
    }
    const key = node.kname ?? node.name;
    if (seen.has(key)) return;
    seen.add(key);
    const device = await convert(node);
    device.partitions = await Promise.all(node.children.filter((c) => c.type === 'part').map(convert));
    devices.push(device);
  };
  for (const root of roots) await visit(root);
  if (options.probeSignatures && !(await extras.hasUdevDatabase())) await probeSignatures(exec, devices);
  // Top-level order follows lsblk's (by name) with stacked devices after their members.
  return devices.sort((a, b) => (isStacked(a) === isStacked(b) ? 0 : isStacked(a) ? 1 : -1));
}

function isStacked(device: BlockDevice): boolean {
  return device.parent !== null || /^(raid|lvm|crypt|dm|mpath)/.test(device.type);
}

async function toBlockDevice(node: LsblkNode, extras: SysfsExtras): Promise<BlockDevice> {
  const kname = node.kname ?? node.name;
  const path = node.path ?? `/dev/${node.name}`;
  const [udev, sysfsVendor, byPath, holders, backingFile] = await Promise.all([
    extras.udevProperties(node['maj:min']),
    node.vendor === null ? extras.sysfsText(kname, 'device/vendor') : null,
    extras.byPath(path),
    extras.holders(kname),
    node.type === 'loop' ? extras.sysfsText(kname, 'loop/backing_file') : null,
  ]);
  // IPA reads each udev key as ID_<key>, else device-mapper's DM_<key>.
  const fromUdev = (key: string) => udev.get(`ID_${key}`) ?? udev.get(`DM_${key}`) ?? null;
  const distinct = (values: Array<string | null>) => [...new Set(values.filter((v): v is string => v !== null))];
  return {
    name: kname,
    path,
    majMin: node['maj:min'],
    type: node.type,
    sizeBytes: node.size,
    model: node.model,
    vendor: node.vendor ?? sysfsVendor,
    serial: node.serial ?? fromUdev('SERIAL_SHORT') ?? fromUdev('SERIAL'),
    // IPA's wwn is udev's ID_WWN (DM_WWN). lsblk's WWN column is ID_WWN_WITH_EXTENSION when
    // udev has one (a RAID volume, a SAN LUN): the longer value, which IPA reports as
    // wwn_with_extension. lsblk's is used only where udev has none (no udev database).
    wwn: fromUdev('WWN') ?? node.wwn,
    wwnWithExtension: fromUdev('WWN_WITH_EXTENSION'),
    wwnVendorExtension: fromUdev('WWN_VENDOR_EXTENSION'),
    allSerials: distinct([node.serial, fromUdev('SERIAL_SHORT'), fromUdev('SERIAL')]),
    allWwns: distinct([node.wwn, fromUdev('WWN')]),
    rotational: node.rota,
    hctl: node.hctl,
    byPath,
    readOnly: node.ro,
    removable: node.rm,
    transport: node.tran,
    logicalSectorSize: node['log-sec'] || 512,
    physicalSectorSize: node['phy-sec'] || 512,
    fsType: node.fstype,
    label: node.label,
    partitionTableType: node.pttype,
    partitionType: node.parttype,
    discardZeroesData: node['disc-zero'],
    discardGranularity: node['disc-gran'],
    mountpoints: node.mountpoints,
    holders,
    parent: node.type === 'part' ? (node.pkname ?? null) : null,
    partitions: [],
    backingFile,
  };
}

/** The facts lsblk leaves out, read once per listing. */
class SysfsExtras {
  #byPath: Promise<Map<string, string>> | undefined;

  constructor(
    readonly sysRoot: string,
    readonly devRoot: string,
    readonly udevRoot: string,
  ) {}

  async sysfsText(kname: string, relative: string): Promise<string | null> {
    const text = await readFile(join(this.sysRoot, 'class', 'block', kname, relative), 'utf8').catch(() => '');
    return text.trim() === '' ? null : text.trim();
  }

  async holders(kname: string): Promise<string[]> {
    return (await readdir(join(this.sysRoot, 'class', 'block', kname, 'holders')).catch(() => [] as string[])).sort();
  }

  async byPath(devicePath: string): Promise<string | null> {
    this.#byPath ??= this.#scanByPath();
    const resolved = await realpath(devicePath).catch(() => devicePath);
    return (await this.#byPath).get(resolved) ?? null;
  }

  async #scanByPath(): Promise<Map<string, string>> {
    const dir = join(this.devRoot, 'disk', 'by-path');
    const map = new Map<string, string>();
    for (const link of (await readdir(dir).catch(() => [] as string[])).sort()) {
      const target = await readlink(join(dir, link)).catch(() => undefined);
      // Keep the first (shortest-sorted) link per device, as IPA does.
      if (target) {
        const device = resolve(dir, target).replace(this.devRoot, '/dev');
        if (!map.has(device)) map.set(device, join('/dev', 'disk', 'by-path', link));
      }
    }
    return map;
  }

  /** Without udev (a minimal ramdisk, a container) lsblk knows no filesystem or label. */
  async hasUdevDatabase(): Promise<boolean> {
    return (await readdir(this.udevRoot).catch(() => [] as string[])).length > 0;
  }

  async udevProperties(majMin: string | null): Promise<Map<string, string>> {
    const properties = new Map<string, string>();
    if (!majMin) return properties;
    const text = await readFile(join(this.udevRoot, `b${majMin}`), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const match = /^E:([A-Z0-9_]+)=(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined && match[2] !== '') properties.set(match[1], match[2]);
    }
    return properties;
  }
}

/**
 * Fills filesystem type, label, table type and partition type from `blkid -p`, which reads
 * the signatures from the devices themselves. One call per device: given several, blkid
 * stops at the first one it cannot open and reports nothing for the rest.
 */
async function probeSignatures(exec: Exec, devices: readonly BlockDevice[]): Promise<void> {
  const all = devices.flatMap((d) => [d, ...d.partitions]).filter((d) => d.sizeBytes > 0);
  const probeOne = async (device: BlockDevice) => {
    // blkid exits 2 when it finds nothing; a device it cannot open is simply left as is.
    const { stdout } = await exec('blkid', ['-p', '-o', 'export', device.path], { okExitCodes: [0, 2], quiet: true }).catch(
      () => ({
        stdout: '',
      }),
    );
    const fields = new Map<string, string>();
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
    }
    device.fsType ??= fields.get('TYPE') ?? null;
    device.label ??= fields.get('LABEL') ?? null;
    device.partitionTableType ??= fields.get('PTTYPE') ?? null;
    device.partitionType ??= fields.get('PART_ENTRY_TYPE') ?? null;
  };
  for (let i = 0; i < all.length; i += 8) await Promise.all(all.slice(i, i + 8).map(probeOne));
}

/**
 * Fills signatures lsblk could not give (no udev database) for these devices and their
 * partitions only; a no-op where udev knows them.
 */
export async function probeMissingSignatures(
  exec: Exec,
  devices: readonly BlockDevice[],
  udevRoot = '/run/udev/data',
): Promise<void> {
  if ((await readdir(udevRoot).catch(() => [] as string[])).length > 0) return;
  await probeSignatures(exec, devices);
}

/** A plain file standing in for a disk (tests, demos), in the same shape as a block device. */
export async function describeFileDevice(file: string): Promise<BlockDevice> {
  const path = resolve(file);
  const info = await stat(path);
  if (!info.isFile()) throw new TypeError(`${path} is not a regular file`);
  return {
    name: basename(path),
    path,
    majMin: null,
    type: 'file',
    sizeBytes: info.size,
    model: null,
    vendor: null,
    serial: null,
    wwn: null,
    wwnWithExtension: null,
    wwnVendorExtension: null,
    rotational: false,
    hctl: null,
    byPath: null,
    readOnly: false,
    removable: false,
    transport: null,
    logicalSectorSize: 512,
    physicalSectorSize: 512,
    fsType: null,
    label: null,
    partitionTableType: null,
    partitionType: null,
    discardZeroesData: false,
    discardGranularity: 0,
    mountpoints: [],
    holders: [],
    parent: null,
    partitions: [],
    backingFile: null,
  };
}

/** True when the device or any of its partitions is mounted. */
export function isMounted(device: BlockDevice): boolean {
  return device.mountpoints.length > 0 || device.partitions.some((p) => p.mountpoints.length > 0);
}
