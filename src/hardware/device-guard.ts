/**
 * The safety guard every destructive step goes through before it writes a byte.
 *
 * A device (block device or plain file standing in for one) may be written only if
 *  - it is on the explicit allow-list (or is a partition of, or an array or device-mapper
 *    device built only on, what is), or the agent runs from a ramdisk (root filesystem is
 *    rootfs/tmpfs/ramfs: the machine being provisioned, whose disks are ours to erase); and
 *  - it does not hold a mounted filesystem or active swap (itself, a partition, or a
 *    device stacked on it); and
 *  - it is not read-only; and
 *  - no other process holds it (or a partition of it) open for writing: one writer per disk.
 * Outside a ramdisk (a developer's laptop, CI) an empty allow-list therefore refuses
 * everything: no test or tool can touch a disk it did not create.
 */
import { constants, readFileSync } from 'node:fs';
import { access, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { findDeviceWriters } from './device-writers.js';
import { ProtectedDeviceError } from './errors.js';

export type GuardRefusal = 'not-allowed' | 'mounted' | 'read-only' | 'missing' | 'swap' | 'busy';

export interface GuardVerdict {
  device: string;
  writable: boolean;
  refusal?: GuardRefusal;
  reason?: string;
}

export interface DeviceGuardOptions {
  allowList: readonly string[];
  /** Override ramdisk detection (tests); by default read from /proc/self/mounts. */
  inRamdisk?: boolean;
  /** Roots of procfs and sysfs, for tests that feed captured trees. */
  procRoot?: string;
  sysRoot?: string;
}

const RAMDISK_ROOT_FS = new Set(['rootfs', 'tmpfs', 'ramfs']);
const MAX_STACK_DEPTH = 4;

export class DeviceGuard {
  readonly #allowList: readonly string[];
  #allowResolved: Promise<Set<string>> | undefined;
  #inRamdisk: Promise<boolean> | undefined;
  readonly #procRoot: string;
  readonly #sysRoot: string;

  constructor(options: DeviceGuardOptions) {
    this.#allowList = options.allowList;
    this.#procRoot = options.procRoot ?? '/proc';
    this.#sysRoot = options.sysRoot ?? '/sys';
    if (options.inRamdisk !== undefined) this.#inRamdisk = Promise.resolve(options.inRamdisk);
  }

  get allowList(): readonly string[] {
    return this.#allowList;
  }

  /** True when the agent runs from a ramdisk and may erase any disk of the machine. */
  inRamdisk(): Promise<boolean> {
    this.#inRamdisk ??= Promise.resolve(detectRamdiskRoot(this.#procRoot));
    return this.#inRamdisk;
  }

  /**
   * Whether the allow-list names this device (by any path resolving to the same node), or
   * the disk it is a partition of: writing a partition of an allow-listed disk (a software
   * RAID member, say) writes that disk. A stacked device (software RAID, device-mapper)
   * writes only its members (sysfs `slaves`), so it counts as allow-listed when every member
   * does: outside a ramdisk an array built on allow-listed disks can be deleted or written.
   */
  async isAllowListed(device: string): Promise<boolean> {
    this.#allowResolved ??= Promise.all(this.#allowList.map((p) => realpath(p).catch(() => p))).then((l) => new Set(l));
    return this.#derivesFromAllowList(await realpath(device).catch(() => device), await this.#allowResolved, 0);
  }

  async #derivesFromAllowList(device: string, allowed: Set<string>, depth: number): Promise<boolean> {
    if (allowed.has(device)) return true;
    // Stacks deeper than this (dm on md on partitions is 3) are not followed: refused.
    if (depth >= MAX_STACK_DEPTH) return false;
    const parent = await partitionParent(this.#sysRoot, device);
    if (parent !== undefined) return this.#derivesFromAllowList(parent, allowed, depth + 1);
    const members = await stackedMembers(this.#sysRoot, device);
    if (members.length === 0) return false;
    const verdicts = await Promise.all(members.map((m) => this.#derivesFromAllowList(m, allowed, depth + 1)));
    return verdicts.every(Boolean);
  }

  /** Whether destructive work would be allowed here, and if not, why. Never throws. */
  async check(device: string): Promise<GuardVerdict> {
    let resolved: string;
    try {
      resolved = await realpath(device);
    } catch {
      return { device, writable: false, refusal: 'missing', reason: 'no such device or file' };
    }
    if (!(await this.inRamdisk()) && !(await this.isAllowListed(resolved))) {
      return {
        device,
        writable: false,
        refusal: 'not-allowed',
        reason: 'not in the allow-list (outside a ramdisk only allow-listed devices may be written)',
      };
    }
    const info = await stat(resolved);
    if (info.isBlockDevice()) {
      const name = basename(resolved);
      const sysDir = join(this.#sysRoot, 'class', 'block', name);
      if ((await readFile(join(sysDir, 'ro'), 'utf8').catch(() => '0')).trim() === '1') {
        return { device, writable: false, refusal: 'read-only', reason: 'the device is read-only' };
      }
      const inUse =
        (await this.#blockDeviceInUse(sysDir)) ?? (await this.#writtenByOthers(await collectDeviceNames(sysDir, this.#sysRoot)));
      if (inUse) return { device, writable: false, ...inUse };
      return { device, writable: true };
    }
    if (info.isFile()) {
      try {
        await access(resolved, constants.W_OK);
      } catch {
        return { device, writable: false, refusal: 'read-only', reason: 'the file is not writable' };
      }
      const inUse = (await this.#fileBackingInUse(resolved)) ?? (await this.#writtenByOthers(new Set([resolved])));
      if (inUse) return { device, writable: false, ...inUse };
      return { device, writable: true };
    }
    return { device, writable: false, refusal: 'not-allowed', reason: 'neither a block device nor a regular file' };
  }

  /** Throws `ProtectedDeviceError` unless `check` allows writing. */
  async assertWritable(device: string): Promise<void> {
    const verdict = await this.check(device);
    if (!verdict.writable) throw new ProtectedDeviceError(device, verdict.reason ?? 'refused');
  }

  /** Another process writes there (a tool left by a killed agent, someone's dd). */
  async #writtenByOthers(paths: ReadonlySet<string>): Promise<Pick<GuardVerdict, 'refusal' | 'reason'> | undefined> {
    const writers = await findDeviceWriters(paths, this.#procRoot);
    if (writers.length === 0) return undefined;
    const list = writers.map((w) => `pid ${w.pid} (${w.command}) on ${w.path}`).join(', ');
    return { refusal: 'busy', reason: `another process has it open for writing: ${list}` };
  }

  /** Mounted or swapped: the device itself, its partitions, or anything stacked on top. */
  async #blockDeviceInUse(sysDir: string): Promise<Pick<GuardVerdict, 'refusal' | 'reason'> | undefined> {
    const numbers = await collectDeviceNumbers(sysDir, this.#sysRoot);
    const mounts = await readFile(join(this.#procRoot, 'self', 'mountinfo'), 'utf8').catch(() => '');
    for (const line of mounts.split('\n')) {
      const fields = line.split(' ');
      const majMin = fields[2];
      if (majMin && numbers.has(majMin)) {
        return { refusal: 'mounted', reason: `it holds a mounted filesystem (${fields[4] ?? '?'})` };
      }
    }
    const swaps = await readFile(join(this.#procRoot, 'swaps'), 'utf8').catch(() => '');
    for (const line of swaps.split('\n').slice(1)) {
      const source = line.split(/\s+/)[0];
      if (!source) continue;
      const resolved = await realpath(source).catch(() => source);
      const dev = await readFile(join(this.#sysRoot, 'class', 'block', basename(resolved), 'dev'), 'utf8').catch(() => '');
      if (dev && numbers.has(dev.trim())) return { refusal: 'swap', reason: `it is in use as swap (${source})` };
    }
    return undefined;
  }

  /** A plain file is in use when a loop device backed by it is mounted. */
  async #fileBackingInUse(file: string): Promise<Pick<GuardVerdict, 'refusal' | 'reason'> | undefined> {
    const blockDir = join(this.#sysRoot, 'block');
    const names = await readdir(blockDir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith('loop'))) {
      const backing = (await readFile(join(blockDir, name, 'loop', 'backing_file'), 'utf8').catch(() => '')).trim();
      if (backing !== file) continue;
      const verdict = await this.#blockDeviceInUse(join(this.#sysRoot, 'class', 'block', name));
      if (verdict) return { ...verdict, reason: `${verdict.reason} through /dev/${name}` };
    }
    return undefined;
  }
}

/**
 * The entries of a sysfs block directory that are partitions (they hold a `partition` file),
 * in readdir's order; asked all at once (a disk's directory has ~30 entries: one after
 * another they were ~30 trips through libuv's pool per look, twice per guard check).
 */
async function partitionEntries(sysDir: string): Promise<string[]> {
  const entries = await readdir(sysDir).catch(() => [] as string[]);
  const isPartition = await Promise.all(
    entries.map((entry) =>
      access(join(sysDir, entry, 'partition')).then(
        () => true,
        () => false,
      ),
    ),
  );
  return entries.filter((_, i) => isPartition[i]);
}

/** `major:minor` of the device, its partitions and every device stacked on them (holders). */
async function collectDeviceNumbers(sysDir: string, sysRoot: string, seen = new Set<string>()): Promise<Set<string>> {
  const dev = (await readFile(join(sysDir, 'dev'), 'utf8').catch(() => '')).trim();
  if (!dev || seen.has(dev)) return seen;
  seen.add(dev);
  for (const entry of await partitionEntries(sysDir)) await collectDeviceNumbers(join(sysDir, entry), sysRoot, seen);
  const holders = await readdir(join(sysDir, 'holders')).catch(() => [] as string[]);
  for (const holder of holders) {
    await collectDeviceNumbers(join(sysRoot, 'class', 'block', holder), sysRoot, seen);
  }
  return seen;
}

/** `/dev/<disk>` when `device` is a partition (sysfs has a `partition` file), else undefined. */
async function partitionParent(sysRoot: string, device: string): Promise<string | undefined> {
  if (!device.startsWith('/dev/')) return undefined;
  const sysDir = join(sysRoot, 'class', 'block', basename(device));
  const isPartition = await access(join(sysDir, 'partition')).then(
    () => true,
    () => false,
  );
  if (!isPartition) return undefined;
  const parentDir = dirname(await realpath(sysDir).catch(() => sysDir));
  return `/dev/${basename(parentDir)}`;
}

/** The devices a stacked device (md, dm) is built on: `/dev/<name>` of its sysfs `slaves`. */
async function stackedMembers(sysRoot: string, device: string): Promise<string[]> {
  if (!device.startsWith('/dev/')) return [];
  const slaves = await readdir(join(sysRoot, 'class', 'block', basename(device), 'slaves')).catch(() => [] as string[]);
  return slaves.map((name) => `/dev/${name}`);
}

/** `/dev/<name>` of the device, its partitions and every device stacked on them. */
async function collectDeviceNames(sysDir: string, sysRoot: string, seen = new Set<string>()): Promise<Set<string>> {
  const path = `/dev/${basename(await realpath(sysDir).catch(() => sysDir))}`;
  if (seen.has(path)) return seen;
  seen.add(path);
  for (const entry of await partitionEntries(sysDir)) await collectDeviceNames(join(sysDir, entry), sysRoot, seen);
  for (const holder of await readdir(join(sysDir, 'holders')).catch(() => [] as string[])) {
    await collectDeviceNames(join(sysRoot, 'class', 'block', holder), sysRoot, seen);
  }
  return seen;
}

/** Read synchronously: it is asked before the agent first answers (see config/load.ts). */
function detectRamdiskRoot(procRoot: string): boolean {
  let mounts = '';
  try {
    mounts = readFileSync(join(procRoot, 'self', 'mounts'), 'utf8');
  } catch {
    // no procfs here: not a ramdisk
  }
  let rootType: string | undefined;
  // The last mount on "/" is the one in effect.
  for (const line of mounts.split('\n')) {
    const [, target, type] = line.split(' ');
    if (target === '/') rootType = type;
  }
  return rootType !== undefined && RAMDISK_ROOT_FS.has(rootType);
}
