/**
 * IPA's `system` extension: `system.lockdown` (reference §5). Ironic calls it (after
 * `standby.sync`) when it may not power a node off (`disable_power_off`): the agent stops
 * serving and heartbeating and takes every network interface down, so nothing can reach the
 * ramdisk again. With simulated power actions the interfaces stay up (only recorded).
 *
 * As in IPA, the command itself cannot fail: the API stops whatever happens next, and the
 * interfaces are listed only then, from /sys/class/net (IPA's `netutils.list_interfaces`),
 * so a missing or failing tool never leaves the API up on a network the node no longer owns.
 */
import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineCommand, defineExtension } from '../command.js';

/** ARPHRD_LOOPBACK: `lo` stays up, as IPA's list never holds it. */
const LOOPBACK_TYPE = '772';

/** Every interface but loopback. IPA keeps physical NICs, VLANs and bonds; here bridges and the like go down too. */
async function lockdownInterfaces(sysClassNet = '/sys/class/net'): Promise<string[]> {
  const names = await readdir(sysClassNet);
  const kept = await Promise.all(
    names.map(async (name) => {
      const type = await readFile(`${sysClassNet}/${name}/type`, 'utf8').catch(() => '');
      return type.trim() === LOOPBACK_TYPE ? null : name;
    }),
  );
  return kept.filter((name): name is string => name !== null).sort();
}

export const systemExtension = defineExtension('system', [
  defineCommand({
    name: 'lockdown',
    mode: 'sync',
    params: z.object({}).loose(),
    run(_params, ctx) {
      const { power, log } = ctx.services;
      log.warn('lockdown requested: stopping the API and heartbeats, then taking the network down');
      void ctx.services
        .stopServing('lockdown')
        .then(async () => power.networkDown(await lockdownInterfaces()))
        .catch((error: unknown) => log.error({ err: error }, 'lockdown did not complete'));
      return null;
    },
  }),
]);
