/**
 * IPA's `flow` extension: `flow.start_flow(flow=[{"ext.cmd": {params}}, ...])` runs the
 * listed commands one after the other inside one async command. Every name is checked
 * before anything starts (an unknown one is IPA's 404/400 at once); the flow FAILS with
 * `"<name> was failed"` at the first sub-command that fails.
 */
import { z } from 'zod';
import { CommandExecutionError } from '../../hardware/errors.js';
import { defineCommand, defineExtension } from '../command.js';

const flowSchema = z.array(z.record(z.string(), z.record(z.string(), z.unknown())));

export const flowExtension = defineExtension('flow', [
  defineCommand({
    name: 'start_flow',
    mode: 'async',
    params: z.object({ flow: flowSchema.default([]) }).loose(),
    validate({ flow }, ctx) {
      for (const task of flow) for (const name of Object.keys(task)) ctx.commands.resolve(name);
    },
    async run({ flow }, ctx) {
      for (const task of flow) {
        for (const [name, params] of Object.entries(task)) {
          ctx.log.info(`Executing method ${name} for now`);
          try {
            await ctx.commands.invoke(name, params);
          } catch (error) {
            ctx.log.error({ err: error }, `${name} failed inside the flow`);
            throw new CommandExecutionError(`${name} was failed`, { cause: error });
          }
          ctx.log.info(`${name} method's execution is done`);
        }
      }
      return null;
    },
  }),
]);
