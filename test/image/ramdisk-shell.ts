/** What the tests of the ramdisk's shell code share: where that code is, and busybox to run it as in the image. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const RAMDISK_SHELL_LIB = join(import.meta.dirname, '..', '..', 'image', 'rootfs', 'usr', 'lib', 'ramdisk');

/** The host's busybox, or undefined (the tests that need it are skipped). */
export const busybox: string | undefined = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

/** udhcpc's hook in the image. */
const UDHCPC_HOOK = join(RAMDISK_SHELL_LIB, '..', '..', 'share', 'udhcpc', 'default.script');

/**
 * Runs `script` in busybox sh with `hook EVENT VAR=VALUE...`, which runs udhcpc's hook as udhcpc
 * does (a process of its own with udhcpc's variables), and with `ipStub` defining `ip` (busybox
 * sh runs its own applet before anything on PATH, so a stub is a shell function). resolv.conf
 * and the NICs' DNS files go to `dir`, as does anything the stub writes ($DIR).
 */
export function runWithUdhcpcHook(dir: string, ipStub: string, script: string): string {
  if (!busybox) throw new Error('no busybox');
  return execFileSync(
    busybox,
    ['sh', '-c', [ipStub, 'hook() { ( event=$1; shift; export "$@"; set -- "$event"; . "$HOOK" ); }', script].join('\n')],
    {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        DIR: dir,
        HOOK: UDHCPC_HOOK,
        RAMDISK_LIB: RAMDISK_SHELL_LIB,
        DNS_DIR: join(dir, 'dns'),
        RESOLV_CONF: join(dir, 'resolv.conf'),
        KMSG: join(dir, 'kmsg'),
      },
      timeout: 120_000,
    },
  );
}
