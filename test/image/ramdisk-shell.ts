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
