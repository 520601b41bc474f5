/**
 * Where the stock Ironic that `test/interop/ironic/install.sh` unpacked lives, and whether it
 * is usable. `.ci/run` and `make test` (scripts/test.sh, as root) install it first; without
 * it the interop tests are skipped with this reason, unless RAMDISK_AGENT_INTEROP=required
 * (set by .ci/run), where a missing conductor is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const IRONIC_SCRIPTS = join(import.meta.dirname, '..', 'ironic');
export const IRONIC_CACHE = process.env.IRONIC_CACHE ?? '/var/cache/ramdisk-agent-interop';

interface IronicInstall {
  cache: string;
  /** The `python3-ironic` version line from install.sh's versions.txt. */
  version: string;
}

/** The install, or why there is none. */
function findIronicInstall(): IronicInstall | { missing: string } {
  const complete = join(IRONIC_CACHE, 'root', '.complete');
  const envFile = join(IRONIC_CACHE, 'env.sh');
  if (!existsSync(complete) || !existsSync(envFile)) {
    return { missing: `no Ironic conductor in ${IRONIC_CACHE}: run test/interop/ironic/install.sh as root (Debian 12)` };
  }
  const versions = readFileSync(join(IRONIC_CACHE, 'versions.txt'), 'utf8');
  const version = /^python3-ironic (\S+)$/m.exec(versions)?.[1] ?? 'unknown';
  return { cache: IRONIC_CACHE, version };
}

const interopRequired = process.env.RAMDISK_AGENT_INTEROP === 'required';

/** A reason to skip the interop tests here (also printed), or undefined when they can run. */
export function interopSkipReason(): string | undefined {
  const reason = skipReason();
  if (reason) process.stderr.write(`[interop] skipped: ${reason}\n`);
  return reason;
}

function skipReason(): string | undefined {
  const install = findIronicInstall();
  if ('missing' in install) {
    if (interopRequired) throw new Error(`RAMDISK_AGENT_INTEROP=required but ${install.missing}`);
    return install.missing;
  }
  if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) {
    const reason = 'the interop tests need root and loop devices (the agent erases and writes scratch loop devices)';
    if (interopRequired) throw new Error(`RAMDISK_AGENT_INTEROP=required but ${reason}`);
    return reason;
  }
  return undefined;
}
