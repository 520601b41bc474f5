/**
 * Assembling the arrays the disks describe, before delete_configuration looks for them
 * (IPA runs `mdadm --assemble --scan` in its ramdisk, where every disk is the node's).
 *
 * Outside a ramdisk (a developer's machine, CI) a bare `--scan` reads mdadm's own config and
 * examines every block device of the machine, and could assemble arrays from its own disks,
 * which the allow-list otherwise keeps out of reach. There mdadm gets a config of its own
 * whose only line is `DEVICE` with the allow-listed disks and their partitions, so that it
 * examines and assembles from nothing else; with no allow-listed disk it is not run at all.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError, listTargetDisks, type ExecResult, type StepContext } from '../../src/hardware/index.js';

/** Exit codes of `--assemble --scan` that are no failure: 1 and 2 when nothing was found. */
const ASSEMBLE_OK_EXIT_CODES = [0, 1, 2];

/**
 * The block devices mdadm may examine outside a ramdisk: allow-listed disks and their
 * partitions, by kernel name (`/dev/dm-3`, not `/dev/mapper/<name>`): each word of a `DEVICE`
 * line is a glob(7) pattern, and only names of plain characters match exactly themselves.
 * Plain files stand in for disks in tests, but mdadm examines block devices only.
 */
async function allowListedMdCandidates(ctx: Pick<StepContext, 'exec' | 'guard'>): Promise<string[]> {
  const { targets } = await listTargetDisks(ctx.exec, ctx.guard);
  return targets
    .filter((d) => d.type !== 'file')
    .flatMap((d) => [d.name, ...d.partitions.map((p) => p.name)])
    .filter((name) => /^[\w.:+-]+$/.test(name))
    .map((name) => `/dev/${name}`);
}

/**
 * `mdadm.conf(5)` limiting mdadm to these devices. Never written empty: a config without a
 * device means `DEVICE partitions`, every device of the machine.
 */
function deviceOnlyMdadmConfig(devices: readonly string[]): string {
  return `# written by ramdisk-agent: examine only the allow-listed devices\nDEVICE ${devices.join(' ')}\n`;
}

/**
 * Assembles what the disks describe. Nothing here fails the step (IPA ignores a failed
 * assembly too): what cannot be assembled is logged, and the scan that follows finds what
 * there is. mdadm's `--verbose` lines, which name every device it examined, go to the debug
 * log. Returns mdadm's result, or undefined when it was not run or failed.
 */
export async function assembleDescribedArrays(ctx: Pick<StepContext, 'exec' | 'guard' | 'log'>): Promise<ExecResult | undefined> {
  const assemble = async (extraArgs: string[]) => {
    const result = await ctx
      .exec('mdadm', ['--assemble', '--scan', '--verbose', ...extraArgs], { okExitCodes: ASSEMBLE_OK_EXIT_CODES })
      .catch(() => undefined);
    if (result) ctx.log.debug({ mdadm: result.stderr.trim().split('\n') }, 'software RAID assembly');
    return result;
  };
  if (await ctx.guard.inRamdisk()) return assemble([]);

  let dir: string | undefined;
  try {
    const devices = await allowListedMdCandidates(ctx);
    if (devices.length === 0) {
      ctx.log.debug('no allow-listed block device: no software RAID to assemble');
      return undefined;
    }
    dir = await mkdtemp(join(tmpdir(), 'ramdisk-agent-mdadm-'));
    const config = join(dir, 'mdadm.conf');
    await writeFile(config, deviceOnlyMdadmConfig(devices), { mode: 0o600 });
    return await assemble([`--config=${config}`]);
  } catch (error) {
    ctx.log.warn({ err: describeError(error) }, 'software RAID assembly skipped');
    return undefined;
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
