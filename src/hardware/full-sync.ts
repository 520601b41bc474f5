/**
 * IPA's `full_sync`, run before the power goes (standby.sync, power_off, run_image): flush
 * the page cache to the disks so that nothing written by earlier steps is lost. With
 * `allDisks` (real power actions, in a ramdisk) every disk's buffers are flushed and the
 * caches dropped; otherwise only the devices the agent may write (its allow-list), so a
 * simulated power-off leaves the host's own disks alone.
 */
import { writeFile } from 'node:fs/promises';
import { listBlockDevices } from './block-devices.js';
import type { DeviceGuard } from './device-guard.js';
import { HardwareManagerMethodNotFound } from './errors.js';
import type { Logger } from './logger.js';
import type { ManagerRegistry } from './registry.js';
import type { Exec } from './step-context.js';

export interface FullSyncOptions {
  exec: Exec;
  guard: DeviceGuard;
  hardware: ManagerRegistry;
  log: Logger;
  allDisks: boolean;
  procRoot?: string;
}

export async function fullSync(options: FullSyncOptions): Promise<void> {
  const { exec, guard, hardware, log } = options;
  await exec('sync', [], { timeoutMs: 10 * 60_000 });
  let devices: string[];
  if (options.allDisks) {
    await writeFile(`${options.procRoot ?? '/proc'}/sys/vm/drop_caches`, '3').catch((error: unknown) =>
      log.warn({ err: error }, 'could not drop caches'),
    );
    devices = (await listBlockDevices(exec)).filter((d) => d.type === 'disk').map((d) => d.path);
  } else {
    devices = (await listBlockDevices(exec).catch(() => []))
      .filter((d) => guard.allowList.includes(d.path) || (d.backingFile !== null && guard.allowList.includes(d.backingFile)))
      .map((d) => d.path);
  }
  for (const device of devices) {
    await exec('blockdev', ['--flushbufs', device], { timeoutMs: 60_000 }).catch((error: unknown) =>
      log.warn({ err: error, device }, 'could not flush the buffers of a device'),
    );
  }
  // Managers may have more to flush (RAID controller caches, ...).
  try {
    await hardware.dispatchToAllManagers('full_sync', { exec, guard, log });
  } catch (error) {
    if (!HardwareManagerMethodNotFound.is(error)) throw error;
  }
}
