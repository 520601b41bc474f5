// In a ramdisk every disk of the machine is the erase's to erase, so a disk it cannot erase
// (mounted, gone, in use) fails the step, naming it, before anything is written; only the
// operator's choices (skip list, read-only allowed) and what is not the machine's data
// (ramdisk media, virtual media, no medium) are left alone. A ramdisk agent here would see
// this machine's own disks, so lsblk answers with a listing this test writes: its disks have
// paths that do not exist, except one, a scratch file, which must come out unchanged.
import { afterEach, describe, expect, it } from 'vitest';
import eraseManager from '../../../hardware-managers/generic-disk-erase/index.js';
import { DeviceGuard, exec as realExec, type StepContext } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { cannedLsblkJson, type CannedDisk } from './canned-lsblk.js';
import { sha256 } from './helpers.js';

const GONE = '/nonexistent-ramdisk-agent-test';

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());

/** A ramdisk agent's step context whose lsblk lists `disks`; other tools run only on `scratchFile`. */
function ramdiskContext(disks: CannedDisk[], scratchFile: string | undefined, node: StepContext['node'] = {}) {
  const fake = createFakeStepContext({
    node: { uuid: 'a5b1a0a6-8c2b-4b8e-9a39-6f1d1f0e5c01', properties: {}, driver_internal_info: {}, ...node },
    exec: async (file, args, options) => {
      if (file === 'lsblk') return { stdout: cannedLsblkJson(disks) };
      if (scratchFile && args.includes(scratchFile)) return realExec(file, args, options);
      if (file === 'blkid') return { exitCode: 2 };
      throw new Error(`this test's disks do not exist: ${file} ${args.join(' ')}`);
    },
  });
  const ctx: StepContext = { ...fake.ctx, guard: new DeviceGuard({ allowList: [], inRamdisk: true }) };
  return { ctx, fake };
}

function runStep(ctx: StepContext, name: string) {
  const step = eraseManager.steps?.find((s) => s.name === name);
  if (!step) throw new Error(`no step ${name}`);
  return Promise.resolve().then(() => step.run(ctx, { dry_run: false }));
}

describe('in a ramdisk, a disk that cannot be erased fails the erase step', () => {
  it('names the mounted disk and the one that vanished, and writes nothing to the disk it could erase', async () => {
    const erasable = scratch.create({ sizeMiB: 8, randomMiB: 8, plainFile: true });
    const before = sha256(erasable.file);
    const { ctx } = ramdiskContext(
      [
        { name: 'sdq', path: erasable.file, sizeBytes: erasable.sizeBytes },
        { name: 'sdr', path: `${GONE}/sdr`, mountpoints: ['/srv/data'] },
        { name: 'sds', path: `${GONE}/sds` },
      ],
      erasable.file,
    );

    for (const step of ['erase_devices_metadata', 'erase_devices', 'erase_devices_express']) {
      const failure = await runStep(ctx, step).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure, step).toMatchObject({ type: 'BlockDeviceEraseError' });
      const details = (failure as { details: string }).details;
      expect(details).toContain(`${GONE}/sdr: holds a mounted filesystem (/srv/data)`);
      expect(details).toContain(`${GONE}/sds: no such device or file`);
      expect(details).not.toContain(erasable.file);
      expect(details).toMatch(/Nothing was written\.$/);
    }
    expect(sha256(erasable.file)).toBe(before);
  });

  it('a read-only disk fails erase_devices unless the conductor allows skipping it; the metadata erase leaves it alone', async () => {
    const disks = [{ name: 'sdt', path: `${GONE}/sdt`, ro: true }];
    const strict = ramdiskContext(disks, undefined);
    await expect(runStep(strict.ctx, 'erase_devices')).rejects.toMatchObject({
      type: 'BlockDeviceEraseError',
      details: expect.stringContaining(`${GONE}/sdt: read-only device; set agent_erase_skip_read_only`),
    });

    const allowed = ramdiskContext(disks, undefined, { driver_internal_info: { agent_erase_skip_read_only: true } });
    const report = (await runStep(allowed.ctx, 'erase_devices')) as { skipped: unknown[] };
    expect(report.skipped).toEqual([{ device: `${GONE}/sdt`, kind: 'read-only', reason: 'read-only device' }]);
    const metadata = (await runStep(strict.ctx, 'erase_devices_metadata')) as { skipped: unknown[] };
    expect(metadata.skipped).toEqual([{ device: `${GONE}/sdt`, kind: 'read-only', reason: 'read-only device' }]);
  });

  it('succeeds when every disk left alone was left by choice: skip list, ramdisk media, no medium', async () => {
    const { ctx } = ramdiskContext(
      [
        { name: 'sdu', path: `${GONE}/sdu` },
        { name: 'loop7', path: `${GONE}/loop7`, type: 'loop' },
        { name: 'sdv', path: `${GONE}/sdv`, sizeBytes: 0 },
      ],
      undefined,
      { properties: { skip_block_devices: [{ serial: 'serial-sdu' }] } },
    );
    const report = (await runStep(ctx, 'erase_devices')) as { devices: object; skipped: { device: string; kind: string }[] };
    expect(report.devices).toEqual({});
    expect(report.skipped.map(({ device, kind }) => [device, kind])).toEqual([
      [`${GONE}/loop7`, 'ramdisk-media'],
      [`${GONE}/sdv`, 'no-medium'],
      [`${GONE}/sdu`, 'skip-list'],
    ]);
  });
});
