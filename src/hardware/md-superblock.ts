/**
 * What a device's own md superblock says (`mdadm --examine`), whether or not its array is
 * assembled: the software RAID manager reads it before its sweep, the erase manager before
 * erasing, so that a volume kept by `skip_block_devices` is known by its members even when
 * mdadm did not start it. Read-only: examining writes nothing.
 */
import type { StepContext } from './step-context.js';

export interface ExaminedSuperblock {
  /** The array's name without its `host:` part, null when the superblock has none. */
  volumeName: string | null;
  arrayUuid: string | null;
}

/**
 * `mdadm --examine` of one device: undefined without an md superblock (its exit status is
 * no answer: on a partitioned disk it succeeds and describes the table). The name is read as
 * IPA's `get_volume_name_of_raid_device` reads `Name : host:name (local to host x)`.
 */
export function parseExamine(stdout: string): ExaminedSuperblock | undefined {
  if (!/^\s*Magic : a92b4efc$/m.test(stdout)) return undefined;
  const field = (name: string) => new RegExp(`^\\s*${name} : (.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? null;
  const name = field('Name');
  let volumeName: string | null = null;
  if (name !== null) {
    const parts = name.split(':');
    const candidate = parts.length === 2 ? parts[1]! : parts.length === 1 ? parts[0]! : null;
    volumeName = candidate?.trim().split(' ')[0] || null;
  }
  return { volumeName, arrayUuid: field('Array UUID') };
}

/** The device's md superblock, undefined when it has none or mdadm cannot read it. */
export async function examineDevice(ctx: Pick<StepContext, 'exec'>, device: string): Promise<ExaminedSuperblock | undefined> {
  const result = await ctx.exec('mdadm', ['--examine', device], { quiet: true, okExitCodes: [0, 1, 2] }).catch(() => undefined);
  return result?.exitCode === 0 ? parseExamine(result.stdout) : undefined;
}
