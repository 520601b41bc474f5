/** IPA's `log` extension: `log.collect_system_logs` → `{"system_logs": "<base64 tar.gz>"}`. */
import { z } from 'zod';
import { defineCommand, defineExtension } from '../command.js';
import { collectSystemLogs } from '../logs/collect-system-logs.js';
import { hardwareInventory } from './poll.js';

export const logExtension = defineExtension('log', [
  defineCommand({
    name: 'collect_system_logs',
    mode: 'sync',
    params: z.object({}).loose(),
    async run(_params, ctx) {
      // The bundle's inventory.json (IPA's bundle has none) without LLDP: with ipa-collect-lldp
      // listening held the bundle for lldp_timeout, and Ironic waits 60 s for it in all.
      const inventory = () => hardwareInventory(ctx.services, { lldp: false });
      const { entries, archive } = await collectSystemLogs(ctx.services, inventory);
      ctx.log.info({ files: entries.length, bytes: archive.length }, 'system logs collected');
      return { system_logs: archive.toString('base64') };
    },
  }),
]);
