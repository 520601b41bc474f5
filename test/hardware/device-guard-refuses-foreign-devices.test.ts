// The safety guard on real loop devices and files made by this test: only allow-listed,
// unmounted, writable devices may be written; inside a ramdisk the allow-list is not needed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';

const scratch = new ScratchDevices();
afterEach(() => scratch.cleanup());
const loop = canUseLoopDevices();

describe('DeviceGuard', () => {
  it('allows an allow-listed scratch device and refuses one that is not listed', async () => {
    const listed = scratch.create({ sizeMiB: 8 });
    const other = scratch.create({ sizeMiB: 8 });
    const guard = new DeviceGuard({ allowList: [listed.path], inRamdisk: false });
    expect(await guard.check(listed.path)).toEqual({ device: listed.path, writable: true });
    const verdict = await guard.check(other.path);
    expect(verdict).toMatchObject({ writable: false, refusal: 'not-allowed' });
    await expect(guard.assertWritable(other.path)).rejects.toMatchObject({
      type: 'ProtectedDeviceError',
      details: expect.stringContaining('not in the allow-list'),
    });
  });

  it.runIf(loop)('a partition of an allow-listed disk is allowed; of another disk, not', async () => {
    const listed = scratch.create({ sizeMiB: 16 });
    const other = scratch.create({ sizeMiB: 16 });
    for (const device of [listed, other]) {
      execFileSync('sgdisk', ['-n', '1:0:+4M', device.path], { stdio: 'ignore' });
      execFileSync('partx', ['-a', device.path], { stdio: 'ignore' });
    }
    const guard = new DeviceGuard({ allowList: [listed.path], inRamdisk: false });
    expect(await guard.check(`${listed.path}p1`)).toEqual({ device: `${listed.path}p1`, writable: true });
    expect(await guard.check(`${other.path}p1`)).toMatchObject({ writable: false, refusal: 'not-allowed' });
  });

  it('a software RAID or device-mapper device is allow-listed when every member is, through partitions and stacks', async () => {
    // A sysfs tree laid out as the kernel's: class/block/<name> links to the device's
    // directory, partitions are subdirectories with a `partition` file, stacked devices list
    // their members in `slaves`. md and dm cannot be made on this machine (no kernel driver).
    const sys = mkdtempSync(join(tmpdir(), 'ramdisk-agent-sys-'));
    try {
      const block = join(sys, 'devices', 'virtual', 'block');
      const device = (path: string, slaves: string[] = []) => {
        mkdirSync(join(block, path, 'slaves'), { recursive: true });
        for (const slave of slaves) writeFileSync(join(block, path, 'slaves', slave), '');
        mkdirSync(join(sys, 'class', 'block'), { recursive: true });
        symlinkSync(join('..', '..', 'devices', 'virtual', 'block', path), join(sys, 'class', 'block', basename(path)));
      };
      const partition = (path: string) => {
        device(path);
        writeFileSync(join(block, path, 'partition'), '1\n');
      };
      for (const loop of ['loop0', 'loop1', 'loop7', 'loop9']) device(loop);
      partition('loop0/loop0p1');
      device('md0', ['loop0', 'loop1']);
      partition('md0/md0p1');
      device('md1', ['loop0', 'loop7']);
      device('md2', ['loop0p1']);
      device('dm-0', ['md0']);

      const guard = new DeviceGuard({ allowList: ['/dev/loop0', '/dev/loop1'], inRamdisk: false, sysRoot: sys });
      const allowed = async (name: string) => guard.isAllowListed(`/dev/${name}`);
      expect(await allowed('md0')).toBe(true);
      expect(await allowed('md0p1')).toBe(true);
      expect(await allowed('md2')).toBe(true); // built on a partition of an allow-listed disk
      expect(await allowed('dm-0')).toBe(true); // stacked on md0
      expect(await allowed('loop0p1')).toBe(true);
      expect(await allowed('md1')).toBe(false); // one member, loop7, is not allow-listed
      expect(await allowed('loop9')).toBe(false); // no members: only the allow-list can name it
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });

  it('a device that does not exist is refused as missing', async () => {
    const guard = new DeviceGuard({ allowList: ['/dev/does-not-exist'], inRamdisk: false });
    expect(await guard.check('/dev/does-not-exist')).toMatchObject({ writable: false, refusal: 'missing' });
  });

  it('a read-only file is refused even when allow-listed', async () => {
    const device = scratch.create({ sizeMiB: 1, plainFile: true });
    const { chmodSync } = await import('node:fs');
    chmodSync(device.file, 0o444);
    const guard = new DeviceGuard({ allowList: [device.file], inRamdisk: false });
    // root bypasses file modes; only assert the refusal where the mode is enforced.
    if (process.getuid?.() !== 0) expect(await guard.check(device.file)).toMatchObject({ refusal: 'read-only' });
    else expect((await guard.check(device.file)).writable).toBe(true);
  });

  it.runIf(loop)('a read-only loop device is refused even when allow-listed', async () => {
    const device = scratch.create({ sizeMiB: 8, readOnly: true });
    const guard = new DeviceGuard({ allowList: [device.path], inRamdisk: false });
    expect(await guard.check(device.path)).toMatchObject({ writable: false, refusal: 'read-only' });
  });

  it.runIf(loop)('a mounted loop device is refused, and so is the file behind it', async () => {
    const device = scratch.create({ sizeMiB: 16 });
    const target = scratch.mount(device);
    const guard = new DeviceGuard({ allowList: [device.path, device.file], inRamdisk: false });
    const verdict = await guard.check(device.path);
    expect(verdict).toMatchObject({ writable: false, refusal: 'mounted' });
    expect(verdict.reason).toContain(target);
    const fileVerdict = await guard.check(device.file);
    expect(fileVerdict).toMatchObject({ writable: false, refusal: 'mounted' });
    expect(fileVerdict.reason).toContain(device.path);
  });

  it.runIf(loop)('inside a ramdisk the allow-list is not required, mounted devices still are refused', async () => {
    const free = scratch.create({ sizeMiB: 16 });
    const mounted = scratch.create({ sizeMiB: 16 });
    scratch.mount(mounted);
    const guard = new DeviceGuard({ allowList: [], inRamdisk: true });
    expect((await guard.check(free.path)).writable).toBe(true);
    expect(await guard.check(mounted.path)).toMatchObject({ refusal: 'mounted' });
  });

  it('detects a ramdisk from the root filesystem type in /proc/self/mounts', async () => {
    const dirs: string[] = [];
    const fakeProc = (rootType: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-proc-'));
      dirs.push(dir);
      mkdirSync(join(dir, 'self'));
      writeFileSync(join(dir, 'self', 'mounts'), `none / ${rootType} rw 0 0\nproc /proc proc rw 0 0\n`);
      return dir;
    };
    try {
      expect(await new DeviceGuard({ allowList: [], procRoot: fakeProc('rootfs') }).inRamdisk()).toBe(true);
      expect(await new DeviceGuard({ allowList: [], procRoot: fakeProc('tmpfs') }).inRamdisk()).toBe(true);
      expect(await new DeviceGuard({ allowList: [], procRoot: fakeProc('ext4') }).inRamdisk()).toBe(false);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
    // This machine runs from a disk: the real detection must say so.
    expect(await new DeviceGuard({ allowList: [] }).inRamdisk()).toBe(false);
  });
});
