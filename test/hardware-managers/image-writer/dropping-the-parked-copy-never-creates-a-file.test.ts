/**
 * After a parked qcow2 conversion the image writer drops the parked copy: blkdiscard, else dd
 * of one MiB of zeros over its header. When the device node is gone by then (a partition
 * whose node udev or a partx removed, as happened when two test suites shared the machine's
 * loop devices), blkdiscard fails and dd must fail too: dd's default creates the output, which
 * left a regular file at /dev/loop1p5 (sized to the parked offset + 1 MiB) that every later
 * write to that partition then met as "not a block device" (in a ramdisk, a file in /dev's
 * tmpfs instead of the disk). The test's path is in its own folder, never in /dev.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropParkedCopy } from '../../../hardware-managers/image-writer/write-qcow2.js';
import { run } from '../../../src/hardware/exec.js';
import { createFakeStepContext } from '../../../src/testing/index.js';

describe('dropping the parked qcow2 copy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parked-copy-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates no file where the device node is missing', async () => {
    const missing = join(dir, 'loop9p5');
    const fake = createFakeStepContext({ phase: 'deploy', exec: (file, args, options) => run(file, args, options) });
    await dropParkedCopy(fake.ctx, missing, 8 * 1024 * 1024, 4096).catch(() => undefined);
    expect(fake.execCalls.map((c) => c.file)).toEqual(['blkdiscard', 'dd']);
    expect(existsSync(missing), 'dd created the missing device as a file').toBe(false);
  });
});
