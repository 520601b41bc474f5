/**
 * Hardware qualification with IPA's burn-in steps and knobs (reference §10): burnin_cpu,
 * burnin_memory (stress-ng), burnin_disk and burnin_network (fio), burnin_gpu (gpu-burn),
 * plus check_disk_health (SMART). All priority 0 (manual cleaning or servicing only), interface deploy,
 * abortable. Each returns a report (what ran, how long, figures, pass/fail per part) and
 * shows live progress; thresholds given as arguments fail the step naming figure and limit.
 *
 * Written only against the public contract, like any vendor plugin.
 */
import { defineHardwareManager, defineStep, HardwareSupport, type StepListing } from '../../src/hardware/index.js';
import { checkDiskHealth, healthArgs } from './disk-health.js';
import { burninDisk, diskArgs } from './fio-disk.js';
import { burninNetwork, networkArgs } from './fio-network.js';
import { burninGpu, gpuArgs } from './gpu.js';
import { burninCpu, burninMemory, cpuArgs, memoryArgs } from './stress.js';

const manual: StepListing = { priority: 0, interface: 'deploy', abortable: true };

const burninCpuStep = defineStep({
  name: 'burnin_cpu',
  description: 'Load every CPU with stress-ng for a set time; reports bogo-ops.',
  clean: manual,
  service: manual,
  args: cpuArgs,
  run: burninCpu,
});

// IPA 10.0+ (2025.1): gpu-burn, installed by the image builder, not shipped in the ramdisk.
const burninGpuStep = defineStep({
  name: 'burnin_gpu',
  description: 'Check the GPU count and load every GPU with gpu-burn for a set time; fails a GPU it finds faulty.',
  clean: manual,
  service: manual,
  args: gpuArgs,
  run: burninGpu,
});

const burninMemoryStep = defineStep({
  name: 'burnin_memory',
  description: "Exercise and verify memory with stress-ng's vm stressor; reports bogo-ops and verification failures.",
  clean: manual,
  service: manual,
  args: memoryArgs,
  run: burninMemory,
});

// Not a service step, as in IPA: it destroys the data on the disks.
const burninDiskStep = defineStep({
  name: 'burnin_disk',
  description: 'Write, read and verify (crc32c) every disk in parallel with fio; reports MiB/s and errors per disk.',
  clean: manual,
  args: diskArgs,
  run: burninDisk,
});

const burninNetworkStep = defineStep({
  name: 'burnin_network',
  description: 'Load the network with fio between two paired nodes (or against a listening target); reports MiB/s.',
  clean: manual,
  service: manual,
  args: networkArgs,
  run: burninNetwork,
});

const checkDiskHealthStep = defineStep({
  name: 'check_disk_health',
  description: 'Fail on a disk whose SMART health is bad (overall, sectors, NVMe warnings, media errors, wear).',
  clean: manual,
  service: manual,
  args: healthArgs,
  run: checkDiskHealth,
});

export default defineHardwareManager({
  name: 'burnin',
  version: '1.0',
  className: 'BurninHardwareManager',
  evaluateHardwareSupport: () => HardwareSupport.GENERIC,
  steps: [burninCpuStep, burninGpuStep, burninMemoryStep, burninDiskStep, burninNetworkStep, checkDiskHealthStep],
});
