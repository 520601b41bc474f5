// An erase that reports success but did not do its work must fail the step: here the
// writing tools are swallowed (they "succeed" without touching the device) and the
// read-back verification has to notice. Reads and probes are real.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eraseDevice } from '../../../hardware-managers/generic-disk-erase/device-eraser.js';
import { ProgressBoard } from '../../../hardware-managers/generic-disk-erase/progress.js';
import {
  describeFileDevice,
  DeviceGuard,
  exec as realExec,
  type ExecOptions,
  type StepContext,
} from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/hardware/logger.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';

const hasIsoMaker = (() => {
  try {
    execFileSync('genisoimage', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** An ISO 9660 image of an empty folder written over the start of `file`. */
function writeIsoOver(file: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'iso-'));
  try {
    mkdirSync(join(dir, 'content'));
    execFileSync('genisoimage', ['-quiet', '-o', join(dir, 'image.iso'), join(dir, 'content')]);
    const image = readFileSync(join(dir, 'image.iso'));
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, image, 0, image.length, 0);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WRITERS = new Set(['dd', 'shred', 'wipefs', 'sgdisk', 'blkdiscard']);

function contextThatSkipsWrites(): StepContext {
  return {
    node: {},
    ports: [],
    phase: 'clean',
    log: silentLogger,
    progress: { update: () => undefined },
    signal: new AbortController().signal,
    guard: new DeviceGuard({ allowList: [], inRamdisk: false }),
    exec: async (file: string, args: readonly string[] = [], options?: ExecOptions) => {
      // wipefs --no-act and sgdisk -p only read: let them through.
      const readOnly = (file === 'wipefs' && args.includes('--no-act')) || (file === 'sgdisk' && args[0] === '-p');
      if (WRITERS.has(file) && !readOnly) return { command: file, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
      return realExec(file, args, options);
    },
    dispatch: async () => undefined as never,
  };
}

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

async function attempt(kind: 'zero' | 'metadata', setup: (file: ReturnType<ScratchDevices['create']>) => void, sizeMiB = 8) {
  const file = scratch.create({ sizeMiB, randomMiB: Math.min(sizeMiB, 8), plainFile: true });
  setup(file);
  const device = await describeFileDevice(file.file);
  const ctx = contextThatSkipsWrites();
  const board = new ProgressBoard(ctx.progress, 'erase_devices', [{ path: device.path, sizeBytes: device.sizeBytes }], []);
  const method =
    kind === 'zero' ? { kind: 'overwrite' as const, plan: { randomPasses: 0, zeroPass: true } } : { kind: 'metadata' as const };
  return eraseDevice(ctx, device, { method, notUsed: [] }, board);
}

describe('a failed verification fails the erase', () => {
  it('a zero pass that left data behind: BlockDeviceEraseError naming the offset', async () => {
    await expect(attempt('zero', () => undefined)).rejects.toMatchObject({
      type: 'BlockDeviceEraseError',
      details: expect.stringMatching(/^Verification after zero of .* failed: non-zero byte at offset \d+$/),
    });
  });

  it('a zero-size device: nothing was read back, so nothing was verified', async () => {
    await expect(attempt('zero', () => undefined, 0)).rejects.toMatchObject({
      type: 'BlockDeviceEraseError',
      details: expect.stringMatching(/^Verification after zero of .* failed: the device reports a size of 0 bytes$/),
    });
  });

  // The agent zeroes the table areas itself; with wipefs swallowed, a filesystem whose
  // superblock lies past them (ISO 9660's at 32 KiB) is what is left to find.
  it.runIf(hasIsoMaker)('a metadata erase that left a filesystem: BlockDeviceEraseError saying what is still found', async () => {
    await expect(attempt('metadata', (file) => writeIsoOver(file.file))).rejects.toMatchObject({
      type: 'BlockDeviceEraseError',
      details: expect.stringMatching(/^Verification after metadata of .* failed: blkid still finds: .*TYPE=iso9660/),
    });
  });
});
