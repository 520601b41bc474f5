/**
 * IPA's `rescue` extension: `rescue.finalize_rescue` (reference §5). Writes the rescue
 * user's password hash where the ramdisk's rescue service reads it, leaves the `.rescued`
 * marker (a restarted agent then never serves again), and stops serving: the node now
 * belongs to its tenant. With simulated power actions the files go under the simulated
 * host root, never into this machine's /etc.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { CommandExecutionError } from '../../hardware/errors.js';
import { defineCommand, defineExtension, type CommandContext } from '../command.js';

const PASSWORD_FILE = '/etc/ipa-rescue-config/ipa-rescue-password';
const RESCUED_MARKER = '/etc/.rescued';

/**
 * crypt(3) SHA-512 with a random salt (`$6$...`), as IPA's `crypt.crypt(password)`, which
 * takes the strongest method glibc offers. Only for a conductor that sends the password in
 * clear: Ironic since Victoria sends it hashed (`hashed: true`), written as it comes.
 */
async function hashPassword(ctx: CommandContext, password: string): Promise<string> {
  const { stdout } = await ctx.services.exec('openssl', ['passwd', '-6', '-stdin'], {
    input: `${password}\n`,
    timeoutMs: 10_000,
    quiet: true,
  });
  return stdout.trim();
}

export const rescueExtension = defineExtension('rescue', [
  defineCommand({
    name: 'finalize_rescue',
    mode: 'sync',
    params: z.object({ rescue_password: z.string().default(''), hashed: z.boolean().default(false) }).loose(),
    async run({ rescue_password, hashed }, ctx) {
      const { power, log } = ctx.services;
      const passwordFile = power.hostPath(PASSWORD_FILE);
      const value = hashed ? rescue_password : await hashPassword(ctx, rescue_password);
      try {
        await mkdir(dirname(passwordFile), { recursive: true });
        await writeFile(passwordFile, value, { mode: 0o600 });
      } catch (error) {
        throw new CommandExecutionError(
          `Rescue Operation failed when writing the hashed rescue password to the password file. Error ${(error as Error).message}`,
        );
      }
      log.info({ path: passwordFile }, 'rescue password written');
      const marker = power.hostPath(RESCUED_MARKER);
      await writeFile(marker, '').catch((error: unknown) =>
        log.warn({ err: error }, 'Failed to create rescue state file marker'),
      );
      // The API must not stay exposed to the tenant's network.
      void ctx.services.stopServing('rescue finalized');
      return null;
    },
  }),
]);
