/**
 * `speed_mbps` of the inventory's interfaces as IPA reports it (GenericHardwareManager.
 * _get_network_speed, IPA ≥ 10.0; 9.4.3 has no such key): lshw's `capacity` of the network
 * node whose `logicalname` is the interface, converted from its `units` to Mbit/s and
 * truncated. lshw sets `capacity` from the link modes ethtool says the NIC *supports*, so it
 * is the NIC's maximum speed, reported whether or not the link is up; the current speed
 * (/sys/class/net/<nic>/speed, lshw's `size`) is not what IPA sends. Interfaces lshw does not
 * list (bonds, VLANs, anything sysfs calls virtual) or lists without a capacity (virtio NICs)
 * get null, as in IPA.
 */
import type { Logger } from '../logger.js';
import type { Exec } from '../step-context.js';

interface LshwNode {
  class?: string;
  logicalname?: unknown;
  capacity?: unknown;
  speed?: unknown;
  units?: unknown;
  children?: LshwNode[];
}

/** IPA's pint registry knows these three (bit_s, Mbit_s = 10^6 bit_s, Gbit_s = 1000 Mbit_s). */
const BITS_PER_UNIT: Record<string, number> = { 'bit/s': 1, 'Mbit/s': 1e6, 'Gbit/s': 1e9 };

/**
 * The scans lshw can skip without changing a network node: they probe disks, memory, CPUs
 * and input/display devices (SCSI and SPD probing take seconds on a large server). PCI, USB,
 * virtio and sysfs stay on: a NIC's node is merged into its bus node, and a NIC lshw
 * considers logical (a VMware MAC) is listed only through that merge. The capacity itself
 * comes from the interface's own ethtool query (lshw's network.cc scan_modes).
 */
const LSHW_SKIPPED_SCANS = [
  'dmi',
  'spd',
  'memory',
  'cpuinfo',
  'cpuid',
  'ide',
  'ideraid',
  'scsi',
  'nvme',
  'mmc',
  'sound',
  'graphics',
  'input',
  'mounts',
  'fb',
  'display',
  'cpufreq',
];

const LSHW_NETWORK_ARGS: readonly string[] = [
  '-quiet',
  '-json',
  '-C',
  'network',
  ...LSHW_SKIPPED_SCANS.flatMap((scan) => ['-disable', scan]),
];

function toMbps(node: LshwNode): number | null {
  // IPA: `capacity or speed`; lshw puts the current speed under configuration, not here.
  const value = [node.capacity, node.speed].find((v) => typeof v === 'number' && v !== 0);
  if (typeof value !== 'number') return null;
  const perUnit = BITS_PER_UNIT[typeof node.units === 'string' ? node.units : 'bit/s'];
  if (perUnit === undefined) return null;
  return Math.trunc((value * perUnit) / 1e6);
}

/** Every network node of an lshw tree, in IPA's find_in_lshw order (a node, then its children). */
function* networkNodes(node: LshwNode): Generator<LshwNode> {
  for (const child of node.children ?? []) {
    if (child.class === 'network') yield child;
    yield* networkNodes(child);
  }
}

/**
 * Interface name → speed_mbps from `lshw -json` output: the whole tree (an object, or the
 * one-element list newer lshw prints) or the list `-C network` prints.
 */
export function nicSpeedsFromLshw(json: string): Map<string, number | null> {
  const parsed = JSON.parse(json) as LshwNode | LshwNode[];
  // `-C network` prints its matches as a list; a full run prints the tree (in a list since 2021).
  const root: LshwNode = Array.isArray(parsed) ? { children: parsed } : parsed;
  const speeds = new Map<string, number | null>();
  for (const node of networkNodes(root)) {
    if (typeof node.logicalname !== 'string' || speeds.has(node.logicalname)) continue;
    speeds.set(node.logicalname, toMbps(node));
  }
  return speeds;
}

/**
 * Runs lshw for the network nodes. Without lshw (or when it fails) every speed is null: IPA
 * would fail the whole inventory there, and its ramdisks always carry lshw, as ours does.
 */
export async function collectNicSpeeds(exec: Exec, log?: Logger): Promise<Map<string, number | null>> {
  try {
    const { stdout } = await exec('lshw', LSHW_NETWORK_ARGS, { timeoutMs: 60_000, quiet: true });
    return nicSpeedsFromLshw(stdout);
  } catch (error) {
    log?.warn({ err: error }, 'Could not read the network interfaces speed from lshw');
    return new Map();
  }
}
