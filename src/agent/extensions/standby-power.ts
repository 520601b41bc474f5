/**
 * The power side of IPA's `standby` extension (reference §4, §5): `standby.power_off`,
 * `standby.run_image` (reboot into the written image) and `standby.sync`. Exported as a
 * command list: `standby.ts` assembles it with the image commands into one extension.
 */
import { z } from 'zod';
import { fullSync as syncDisks } from '../../hardware/full-sync.js';
import { syncClock } from '../clock-sync.js';
import { defineCommand, type CommandContext } from '../command.js';

const noParams = z.object({}).loose();

/** IPA's `full_sync` with this agent's services; all disks only for real power actions. */
function fullSync(ctx: CommandContext): Promise<void> {
  const { exec, guard, hardware, log, power } = ctx.services;
  return syncDisks({ exec, guard, hardware, log, allDisks: power.mode === 'real' });
}

/**
 * IPA's power_off / run_image: clock and disks settled first, then the power action. A failed
 * sync (a manager's `full_sync` included) is only a warning, as in IPA's
 * `_run_shutdown_command`: the machine still goes down. With the `agent` power interface
 * run_image is Ironic's only way to reboot the node, and after a refused power_off Ironic
 * waits and cuts the power out of band anyway, losing what the flush could still write.
 */
function powerCommand(name: 'power_off' | 'run_image', action: (power: CommandContext['services']['power']) => Promise<void>) {
  return defineCommand({
    name,
    mode: 'async',
    params: noParams,
    async run(_params, ctx) {
      const { exec, power, config } = ctx.services;
      // A simulated power-off never touches the host's clock.
      if (power.mode === 'real') await syncClock({ exec, log: ctx.log, ntpServer: config.ntpServer });
      await fullSync(ctx).catch((error: unknown) => ctx.log.warn({ err: error }, 'Failed to sync file system buffers'));
      await action(ctx.services.power);
      return null;
    },
  });
}

export const standbyPowerCommands = [
  powerCommand('power_off', (power) => power.powerOff()),
  powerCommand('run_image', (power) => power.reboot()),
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
