// When the kernel cannot unpack the whole initramfs (its rootfs is a tmpfs capped at half the
// RAM), it logs "Initramfs unpacking failed: write error" and still runs /init, which must say
// how much RAM the image needs instead of failing later on a missing file
// (image/rootfs/usr/lib/ramdisk/functions.sh, unpack_failure), run with busybox sh as in the image.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

const lib = RAMDISK_SHELL_LIB;

describe.skipIf(!busybox)('the ramdisk init names the RAM an image needs (busybox sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-unpack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** unpack_failure with `kernelLog` as the kernel's log and an image that takes `rootfsKib` in the rootfs. */
  function unpackFailure(kernelLog: string, rootfsKib: number): { status: number; stdout: string } {
    writeFileSync(join(dir, 'dmesg'), kernelLog);
    writeFileSync(join(dir, 'unpacked-kib'), `${rootfsKib}\n`);
    const script = `. ${lib}/functions.sh; kernel_log() { cat ${join(dir, 'dmesg')}; }; unpack_failure`;
    try {
      const stdout = execFileSync(busybox!, ['sh', '-c', script], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, RAMDISK_LIB: lib, ROOTFS_KIB_FILE: join(dir, 'unpacked-kib'), KMSG: '/dev/null' },
      });
      return { status: 0, stdout };
    } catch (error) {
      return { status: (error as { status: number }).status, stdout: String((error as { stdout: string }).stdout) };
    }
  }

  it('says the image did not fit and how much RAM it needs', () => {
    const { status, stdout } = unpackFailure(
      [
        '[    1.811102] Trying to unpack rootfs image as initramfs...',
        '[    6.912345] Initramfs unpacking failed: write error',
        '[    6.950000] Freeing initrd memory: 52336K',
      ].join('\n'),
      189_000,
    );
    expect(status).toBe(0);
    // (2 × 189000 + 52336) KiB = 420 MiB, plus the 64 MiB the kernel keeps.
    expect(stdout).toMatch(
      /^the kernel could not unpack this image \(Initramfs unpacking failed: write error\): it unpacks to 184 MiB, which must fit in half of the RAM; give this machine at least 484 MiB of RAM \(the kernel has \d+ MiB\)\n$/,
    );
  });

  it('says nothing when the kernel unpacked everything', () => {
    const { status, stdout } = unpackFailure(
      '[    1.811102] Trying to unpack rootfs image as initramfs...\n[    8.197421] Freeing initrd memory: 52336K\n',
      189_000,
    );
    expect(status).toBe(1);
    expect(stdout).toBe('');
  });
});
