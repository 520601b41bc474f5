/**
 * IPA's `system` extension: `system.lockdown` (reference §5). Ironic calls it (after
 * `standby.sync`) when it powers a node off in-band: the agent stops serving and
 * heartbeating and takes every network interface down, so nothing can reach the ramdisk
 * again. With simulated power actions the interfaces stay up (only recorded).
 */
import { z } from 'zod';
import { defineCommand, defineExtension } from '../command.js';

const linkSchema = z.array(z.looseObject({ ifname: z.string(), link_type: z.string().optional() }));

export const systemExtension = defineExtension('system', [
  defineCommand({
    name: 'lockdown',
    mode: 'sync',
    params: z.object({}).loose(),
    async run(_params, ctx) {
      const { exec, power, log } = ctx.services;
      const { stdout } = await exec('ip', ['-j', 'link', 'show'], { timeoutMs: 10_000, quiet: true });
      const interfaces = linkSchema
        .parse(JSON.parse(stdout))
        .filter((l) => l.link_type !== 'loopback')
        .map((l) => l.ifname);
      log.warn({ interfaces }, 'lockdown requested: stopping the API and heartbeats, then taking the network down');
      void ctx.services
        .stopServing('lockdown')
        .then(() => power.networkDown(interfaces))
        .catch((error: unknown) => log.error({ err: error }, 'lockdown did not complete'));
      return null;
    },
  }),
]);
