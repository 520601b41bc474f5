// Loop devices for the benches, attached as the tests and the demo attach theirs: one
// `losetup --find` at a time across processes under the same lock file as
// src/shared/loop-attach.ts (concurrent finds can be handed the same free device), so a bench
// run beside the tests cannot take a test's device or hand it one of its own.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const lock = join(existsSync('/run') ? '/run' : tmpdir(), 'ramdisk-agent-losetup.lock');

/**
 * Attaches `file` as a new loop device with direct I/O from the device to its file (a real
 * disk has no page cache in front) and returns its path.
 */
export function attachDirectIoLoop(file) {
  const args = ['--wait', '60', lock, 'losetup', '--find', '--show', '--direct-io=on', file];
  return execFileSync('flock', args, { encoding: 'utf8' }).trim();
}
