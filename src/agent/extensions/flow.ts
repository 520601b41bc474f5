/**
 * IPA's `flow` extension: `flow.start_flow(flow=[{"ext.cmd": {params}}, ...])` runs the
 * listed commands one after the other inside one async command. Every name is checked
 * before anything starts (an unknown one is IPA's 404/400 at once); the flow FAILS with
 * `"<name> was failed"` at the first sub-command that fails, and with the sub-command's own
 * error when it refuses its input (IPA's `execute_command` re-raises InvalidContentError:
 * `InvalidCommandParamsError`, 400, with the validator's text).
 *
 * Where we differ: IPA's commands take their params as Python keyword arguments, so a
 * missing or unexpected one is a TypeError and "was failed"; ours are checked by each
 * command's schema first and are that 400, as a direct call of the command answers.
 */
import { z } from 'zod';
import { CommandExecutionError } from '../../hardware/errors.js';
import { defineCommand, defineExtension, SubcommandFailed } from '../command.js';

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
            if (!(error instanceof SubcommandFailed)) throw error;
            ctx.log.error({ err: error.cause }, `${name} failed inside the flow`);
            throw new CommandExecutionError(`${name} was failed`, { cause: error.cause });
          }
          ctx.log.info(`${name} method's execution is done`);
        }
      }
      return null;
    },
  }),
]);
