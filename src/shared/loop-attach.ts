/**
 * The command that attaches a file as a new loop device (`losetup --find --show`), run one at
 * a time across the machine's processes under a lock file (flock). Concurrent `--find`s can
 * be handed the same free device; the one that loses holds that device open for writing
 * while it waits to retry (~200 ms), and a device guard checking the winner's new device in
 * that window sees a foreign writer and refuses it. Tests and the demo make their scratch
 * disks with it; only callers that take the lock are kept apart.
 *
 * The lock lives in /run, root's (attaching needs root anyway): a per-user TMPDIR would give
 * processes different locks, and in a world-writable /tmp another user could hold it.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Seconds to wait for the lock before attaching fails (one attach takes milliseconds). */
const LOCK_WAIT_SECONDS = '60';

export function loopAttachCommand(file: string, losetupOptions: readonly string[] = []): [string, string[]] {
  const lock = join(existsSync('/run') ? '/run' : tmpdir(), 'ramdisk-agent-losetup.lock');
  return ['flock', ['--wait', LOCK_WAIT_SECONDS, lock, 'losetup', '--find', '--show', ...losetupOptions, file]];
}
