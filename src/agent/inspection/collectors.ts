/**
 * The inspection collectors, named as IPA's entry points (`ironic_python_agent.inspector.
 * collectors`), each adding its keys to the data posted to the inspector. What reads the
 * hardware lives in src/hardware/inspection; LLDP and USB go through the hardware managers
 * first (`collect_lldp_data`, `get_usb_devices`), as IPA dispatches them.
 */

import { ExecError } from '../../hardware/exec.js';
import { collectDmi } from '../../hardware/inspection/dmi-decode.js';

import { collectNumaTopology } from '../../hardware/inspection/numa-topology.js';
import { collectPciDevices } from '../../hardware/inspection/pci-devices.js';
import { collectUsbDevices } from '../../hardware/inspection/usb-devices.js';
import type { Inventory, InventoryDisk } from '../../hardware/inventory/types.js';
import { hardwareInventory } from '../extensions/poll.js';
import { collectSystemLogs } from '../logs/collect-system-logs.js';
import type { AgentServices } from '../services.js';
import { waitForDhcp } from './dhcp-wait.js';
import { fromManagers, lldpData } from './lldp-data.js';
import type { AccumulatedFailures } from './failures.js';

export type InspectionData = Record<string, unknown>;

interface CollectorContext {
  services: AgentServices;
  collectorNames: readonly string[];
  signal?: AbortSignal | undefined;
  /** Tests point the /sys readers at a captured tree. */
  sysRoot?: string | undefined;
}

export type Collector = (data: InspectionData, failures: AccumulatedFailures, ctx: CollectorContext) => Promise<void>;

const MIN_ROOT_DISK_BYTES = 4 * 1024 ** 3;

/** IPA's `utils.guess_root_disk` on the inventory's disks: by (size, name), the first of at least 4 GiB. */
function guessRootDisk(disks: readonly InventoryDisk[]): InventoryDisk | undefined {
  const sorted = [...disks].sort((a, b) => a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.find((d) => d.size >= MIN_ROOT_DISK_BYTES);
}

const collectDefault: Collector = async (data, _failures, { services, collectorNames, signal }) => {
  await waitForDhcp(services, signal);
  const inventory: Inventory = await hardwareInventory(services);
  data.inventory = inventory;
  const root = guessRootDisk(inventory.disks);
  if (root) data.root_disk = root;
  else services.log.warn('no suitable root device detected');
  data.boot_interface = inventory.boot.pxe_interface;
  data.configuration = {
    collectors: [...collectorNames],
    managers: services.hardware.managers.map(({ manager }) => ({ name: manager.name, version: manager.version })),
  };
};

const collectLogs: Collector = async (data, _failures, { services }) => {
  try {
    // The inventory is already in the data (default collector): no second LLDP wait here.
    const { archive } = await collectSystemLogs(services, () => hardwareInventory(services, { lldp: false }));
    data.logs = archive.toString('base64');
  } catch (error) {
    // IPA: this collector does not report failures.
    services.log.warn({ err: error }, 'failed to get system journal');
  }
};

const collectPci: Collector = async (data, failures, { services, sysRoot }) => {
  try {
    data.pci_devices = await collectPciDevices(sysRoot, services.log);
  } catch (error) {
    failures.add(`Failed to get list of PCI devices: ${(error as Error).message}`);
  }
};

const collectNuma: Collector = async (data, _failures, { services, sysRoot }) => {
  const topology = await collectNumaTopology(sysRoot, services.log);
  if (topology) data.numa_topology = topology;
};

const collectDmiDecode: Collector = async (data, failures, { services }) => {
  try {
    data.dmi = await collectDmi(services.exec);
  } catch (error) {
    if (error instanceof ExecError) failures.add(`failed to run dmidecode: ${error.details ?? error.message}`);
    else {
      data.dmi = {};
      services.log.warn({ err: error }, 'Failed to collect dmidecode info');
    }
  }
};

const collectLldp: Collector = async (data, _failures, { services, signal }) => {
  data.lldp_raw = await lldpData(services, undefined, signal);
};

const collectUsb: Collector = async (data, _failures, { services }) => {
  data.usb_devices = await fromManagers(
    services,
    'get_usb_devices',
    () => collectUsbDevices(services.exec),
    services.hardware.context,
  );
};

/** Runs `hardware-detect` (python-hardware) when the ramdisk has it; its absence is reported as IPA does. */
const collectExtraHardware: Collector = async (data, failures, { services }) => {
  const benchmarks = services.config.inspectionBenchmarks;
  const args = benchmarks ? ['--benchmark', ...benchmarks.split(',')] : [];
  let stdout: string;
  try {
    ({ stdout } = await services.exec('hardware-detect', args, { timeoutMs: 30 * 60_000, quiet: true }));
  } catch (error) {
    failures.add(`failed to run hardware-detect utility: ${error instanceof ExecError ? error.details : String(error)}`);
    return;
  }
  try {
    data.data = JSON.parse(stdout);
  } catch (error) {
    failures.add(`JSON returned from hardware-detect cannot be decoded: ${(error as Error).message}`);
  }
};

export const COLLECTORS: Readonly<Record<string, Collector>> = {
  default: collectDefault,
  logs: collectLogs,
  'extra-hardware': collectExtraHardware,
  'pci-devices': collectPci,
  'numa-topology': collectNuma,
  'dmi-decode': collectDmiDecode,
  lldp: collectLldp,
  'usb-devices': collectUsb,
};
