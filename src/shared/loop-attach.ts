/**
 * The command that attaches a file as a new loop device (`losetup --find --show`), run one at
 * a time across every process of the machine under a lock file (flock). Concurrent `--find`s
 * can be handed the same free device; the one that loses holds that device open for writing
 * while it waits to retry (~200 ms), and a device guard checking the winner's new device in
 * that window sees a foreign writer and refuses it. Tests and the demo make their scratch
 * disks with it; only callers that take the lock are kept apart.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function loopAttachCommand(file: string, losetupOptions: readonly string[] = []): [string, string[]] {
  const lock = join(tmpdir(), 'ramdisk-agent-losetup.lock');
  return ['flock', [lock, 'losetup', '--find', '--show', ...losetupOptions, file]];
}
