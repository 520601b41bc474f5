// The small pieces an operator relies on: IPA's settings as Ironic sends them, what the
// live progress says, and erase_pstore.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgressBoard } from '../../../hardware-managers/generic-disk-erase/progress.js';
import { erasePstore } from '../../../hardware-managers/generic-disk-erase/pstore.js';
import { eraseSettingsFromNode } from '../../../hardware-managers/generic-disk-erase/settings.js';
import { DeviceGuard, type StepContext } from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/hardware/logger.js';

const MIB = 1024 * 1024;

describe('erase settings from driver_internal_info', () => {
  it("uses IPA's defaults when Ironic sends nothing, and every device at once", () => {
    expect(eraseSettingsFromNode({})).toEqual({
      iterations: 1,
      zeroize: true,
      continueIfSecureEraseFailed: false,
      enableAtaSecureErase: true,
      enableNvmeSecureErase: true,
      skipReadOnly: false,
      concurrency: undefined,
      guardSpecialFilesystems: true,
    });
  });

  it('reads booleans as Ironic or an operator writes them, and honours the legacy ATA key', () => {
    const settings = eraseSettingsFromNode({
      driver_internal_info: {
        agent_erase_devices_iterations: '3',
        agent_erase_devices_zeroize: 'False',
        agent_continue_if_ata_erase_failed: true,
        agent_enable_nvme_secure_erase: 0,
        disk_erasure_concurrency: 2,
      },
    });
    expect(settings).toMatchObject({
      iterations: 3,
      zeroize: false,
      continueIfSecureEraseFailed: true,
      enableNvmeSecureErase: false,
      concurrency: 2,
    });
    // The newer key wins over the legacy one.
    expect(
      eraseSettingsFromNode({
        driver_internal_info: { agent_continue_if_ata_erase_failed: true, agent_continue_if_secure_erase_failed: false },
      }).continueIfSecureEraseFailed,
    ).toBe(false);
  });

  it('rejects a concurrency that is not a positive integer with InvalidCommandParamsError', () => {
    expect(() => eraseSettingsFromNode({ driver_internal_info: { disk_erasure_concurrency: 0 } })).toThrow(
      expect.objectContaining({
        type: 'InvalidCommandParamsError',
        details: expect.stringContaining('disk_erasure_concurrency'),
      }),
    );
  });
});

describe('live progress', () => {
  it('reports bytes over all passes, percent, and overall figures as devices advance', () => {
    const published: any[] = [];
    const board = new ProgressBoard(
      { update: (p) => published.push(p) },
      'erase_devices',
      [
        { path: '/dev/a', sizeBytes: 100 * MIB },
        { path: '/dev/b', sizeBytes: 100 * MIB },
      ],
      [{ device: '/dev/c', reason: 'read-only device' }],
    );
    board.start('/dev/a', 'shred_then_zero', 2);
    board.advance('/dev/a', 2, 50 * MIB);
    board.close();
    const snapshot = published.at(-1);
    expect(snapshot.devices[0]).toMatchObject({
      device: '/dev/a',
      state: 'running',
      pass: 2,
      passes: 2,
      bytes_done: 150 * MIB,
      bytes_total: 200 * MIB,
      percent: 75,
    });
    expect(snapshot.devices[1]).toMatchObject({ device: '/dev/b', state: 'pending', bytes_total: 0 });
    expect(snapshot.overall).toMatchObject({
      devices: 2,
      finished: 0,
      bytes_done: 150 * MIB,
      bytes_total: 200 * MIB,
      percent: 75,
    });
    expect(snapshot.skipped).toEqual([{ device: '/dev/c', reason: 'read-only device' }]);
    board.finish('/dev/a');
    expect(published.at(-1).devices[0]).toMatchObject({ state: 'done', percent: 100, eta_seconds: 0 });
  });

  it('publishes a failure with its message', () => {
    const published: any[] = [];
    const board = new ProgressBoard(
      { update: (p) => published.push(p) },
      'erase_devices',
      [{ path: '/dev/a', sizeBytes: MIB }],
      [],
    );
    board.start('/dev/a', 'zero', 1);
    board.finish('/dev/a', 'dd exited with code 1');
    expect(published.at(-1).devices[0]).toMatchObject({ state: 'failed', error: 'dd exited with code 1' });
  });
});

describe('erase_pstore', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const contextWith = (guard: DeviceGuard) =>
    ({
      node: {},
      ports: [],
      phase: 'clean',
      log: silentLogger,
      progress: { update: () => undefined },
      signal: new AbortController().signal,
      guard,
      exec: async () => {
        throw new Error('no program expected');
      },
      dispatch: async () => undefined as never,
    }) as unknown as StepContext;
  const ctx = contextWith(new DeviceGuard({ allowList: [], inRamdisk: true }));

  function fakePstore() {
    dir = mkdtempSync(join(tmpdir(), 'pstore-'));
    const pstore = join(dir, 'pstore');
    mkdirSync(pstore);
    writeFileSync(join(pstore, 'dmesg-efi-1'), 'panic');
    const mounts = join(dir, 'mounts');
    writeFileSync(mounts, `/dev/vda1 / ext4 rw 0 0\npstore ${pstore} pstore rw,nosuid,nodev,noexec,relatime 0 0\n`);
    return { pstore, mounts };
  }

  it('refuses outside a ramdisk, and leaves the crash records alone', async () => {
    const { pstore, mounts } = fakePstore();
    const outside = contextWith(new DeviceGuard({ allowList: [], inRamdisk: false }));
    await expect(erasePstore(outside, mounts)).rejects.toMatchObject({
      type: 'ProtectedDeviceError',
      message: expect.stringContaining('not booted from a ramdisk'),
    });
    expect(readdirSync(pstore)).toEqual(['dmesg-efi-1']);
  });

  it('outside a ramdisk erases only an allow-listed pstore', async () => {
    const { pstore, mounts } = fakePstore();
    const allowed = contextWith(new DeviceGuard({ allowList: [pstore], inRamdisk: false }));
    expect((await erasePstore(allowed, mounts)).removed).toEqual(['dmesg-efi-1']);
    expect(readdirSync(pstore)).toEqual([]);
  });

  it('empties the pstore filesystem named in /proc/mounts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pstore-'));
    const pstore = join(dir, 'pstore');
    mkdirSync(pstore);
    writeFileSync(join(pstore, 'dmesg-efi-1'), 'panic');
    writeFileSync(join(pstore, 'console-ramoops-0'), 'oops');
    const mounts = join(dir, 'mounts');
    writeFileSync(mounts, `/dev/vda1 / ext4 rw 0 0\npstore ${pstore} pstore rw,nosuid,nodev,noexec,relatime 0 0\n`);
    const result = await erasePstore(ctx, mounts);
    expect(result.removed.sort()).toEqual(['console-ramoops-0', 'dmesg-efi-1']);
    expect(readdirSync(pstore)).toEqual([]);
  });

  it('does nothing, successfully, when no pstore is mounted', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pstore-'));
    const mounts = join(dir, 'mounts');
    writeFileSync(mounts, '/dev/vda1 / ext4 rw 0 0\n');
    expect(await erasePstore(ctx, mounts)).toEqual({ pstore: null, removed: [] });
  });
});
