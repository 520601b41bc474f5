/**
 * The power side of IPA's `standby` extension (reference §4, §5): `standby.power_off`,
 * `standby.run_image` (reboot into the written image) and `standby.sync`. Exported as a
 * command list: `standby.ts` assembles it with the image commands into one extension.
 */
import { z } from 'zod';
import { listBlockDevices } from '../../hardware/block-devices.js';
import { isIpaError } from '../../hardware/errors.js';
import { hasCommand } from '../../hardware/exec.js';
import { defineCommand, type CommandContext } from '../command.js';

const noParams = z.object({}).loose();

/**
 * IPA's `full_sync`: flush the page cache to the disks so that nothing written by the
 * previous steps is lost when the power goes. Simulated power actions flush only the
 * devices the agent may write (its allow-list); the host's own disks are left alone.
 */
export async function fullSync(ctx: CommandContext): Promise<void> {
  const { exec, power, guard, hardware, log } = ctx.services;
  await exec('sync', [], { timeoutMs: 10 * 60_000 });
  let devices: string[];
  if (power.mode === 'real') {
    const { writeFile } = await import('node:fs/promises');
    await writeFile('/proc/sys/vm/drop_caches', '3').catch((error: unknown) => log.warn({ err: error }, 'could not drop caches'));
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
    await hardware.dispatchToAllManagers('full_sync');
  } catch (error) {
    if (!(isIpaError(error) && error.type === 'HardwareManagerMethodNotFound')) throw error;
  }
}

/**
 * Before the machine goes down, as IPA does: set the clock from `ntp_server` when one is
 * configured, then write the system time to the hardware clock, so the next OS boots with
 * the right time. Best effort, and only for real power actions: a simulated power-off never
 * touches the host's clock.
 */
async function syncClock(ctx: CommandContext): Promise<void> {
  const { exec, power, config, log } = ctx.services;
  if (power.mode !== 'real') return;
  const attempt = async (file: string, args: string[]) => {
    try {
      await exec(file, args, { timeoutMs: 60_000 });
      return true;
    } catch (error) {
      log.warn({ err: error }, `${file} failed; continuing`);
      return false;
    }
  };
  if (config.ntpServer) {
    if (await hasCommand('chronyd')) await attempt('chronyd', ['-q', `server ${config.ntpServer} iburst`]);
    else if (await hasCommand('ntpdate')) await attempt('ntpdate', [config.ntpServer]);
    else log.warn({ ntpServer: config.ntpServer }, 'no chronyd or ntpdate to sync the clock with');
  }
  if (await hasCommand('hwclock')) await attempt('hwclock', ['-v', '--systohc']);
}

export const standbyPowerCommands = [
  defineCommand({
    name: 'power_off',
    mode: 'async',
    params: noParams,
    async run(_params, ctx) {
      await syncClock(ctx);
      await fullSync(ctx);
      await ctx.services.power.powerOff();
      return null;
    },
  }),
  defineCommand({
    name: 'run_image',
    mode: 'async',
    params: noParams,
    async run(_params, ctx) {
      await syncClock(ctx);
      await fullSync(ctx);
      await ctx.services.power.reboot();
      return null;
    },
  }),
  defineCommand({
    name: 'sync',
    mode: 'sync',
    params: noParams,
    async run(_params, ctx) {
      await fullSync(ctx);
      return null;
    },
  }),
] as const;
