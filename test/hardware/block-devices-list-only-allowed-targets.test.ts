import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listBlockDevices } from '../../src/hardware/block-devices.js';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { listTargetDisks } from '../../src/hardware/disk-targets.js';
import { run } from '../../src/hardware/exec.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { dropPartitions, partition } from '../hardware-managers/generic-disk-erase/helpers.js';

const MIB = 1024 * 1024;
/** A udev database folder that cannot exist: `/nonexistent` itself can (something made it on a CI host once). */
const NO_UDEV_DATABASE = join(tmpdir(), `ramdisk-agent-no-udev-${process.pid}-${Date.now()}`);
const scratch = new ScratchDevices();
afterEach(() => {
  dropPartitions();
  scratch.cleanup();
});

describe.runIf(canUseLoopDevices())('block-device discovery on real loop devices', () => {
  it('describes a loop device with its partitions, sizes, sector sizes and backing file', async () => {
    const device = scratch.create({ sizeMiB: 16 });
    partition(device, ['-n1:0:+4M', '-n2:0:0']);
    const [listed] = await listBlockDevices(run, { devices: [device.path] });
    expect(listed).toMatchObject({
      path: device.path,
      type: 'loop',
      sizeBytes: 16 * MIB,
      logicalSectorSize: 512,
      readOnly: false,
      parent: null,
      backingFile: device.file,
      mountpoints: [],
    });
    expect(listed!.partitions.map((p) => p.path)).toEqual([`${device.path}p1`, `${device.path}p2`]);
    expect(listed!.partitions[0]).toMatchObject({ type: 'part', sizeBytes: 4 * MIB, parent: listed!.name });
  });

  it('reads filesystem type, label, table and partition type from the device when udev has no record', async () => {
    const device = scratch.create({ sizeMiB: 16 });
    partition(device, ['-n1:0:+8M', '-t1:8300']);
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'scratch-label', `${device.path}p1`], { stdio: 'ignore' });
    const [listed] = await listBlockDevices(run, { devices: [device.path], udevRoot: NO_UDEV_DATABASE, probeSignatures: true });
    expect(listed?.partitionTableType).toBe('gpt');
    expect(listed?.partitions[0]).toMatchObject({
      fsType: 'ext4',
      label: 'scratch-label',
      partitionType: '0fc63daf-8483-4772-8e79-3d69d8477de4',
    });
  });

  it('reports read-only and mounted loop devices as such', async () => {
    const readOnly = scratch.create({ sizeMiB: 8, readOnly: true });
    const mounted = scratch.create({ sizeMiB: 16 });
    const target = scratch.mount(mounted);
    const listing = await listBlockDevices(run, { devices: [readOnly.path, mounted.path] });
    expect(listing.find((d) => d.path === readOnly.path)?.readOnly).toBe(true);
    expect(listing.find((d) => d.path === mounted.path)?.mountpoints).toEqual([target]);
  });

  it('outside a ramdisk, only allow-listed loop devices and files are targets; the rest are skipped with a reason', async () => {
    const allowed = scratch.create({ sizeMiB: 8 });
    const other = scratch.create({ sizeMiB: 8 });
    const file = scratch.create({ sizeMiB: 4, plainFile: true });
    const guard = new DeviceGuard({ allowList: [allowed.path, file.path], inRamdisk: false });
    const { targets, skipped } = await listTargetDisks(run, guard);
    expect(targets.map((d) => d.path).sort()).toEqual([allowed.path, file.path].sort());
    expect(targets.find((d) => d.path === file.path)).toMatchObject({ type: 'file', sizeBytes: 4 * MIB });
    expect(skipped.find((s) => s.device.path === other.path)?.reason).toMatch(/not in the allow-list/);
  });

  it('in a ramdisk, loop devices are never targets even when allow-listing is not involved', async () => {
    const loop = scratch.create({ sizeMiB: 8 });
    const guard = new DeviceGuard({ allowList: [], inRamdisk: true });
    const { targets, skipped } = await listTargetDisks(run, guard, { devices: [loop.path] });
    expect(targets).toEqual([]);
    expect(skipped[0]?.reason).toMatch(/loop device/);
  });

  it('applies properties.skip_block_devices hints', async () => {
    const a = scratch.create({ sizeMiB: 8 });
    const b = scratch.create({ sizeMiB: 8 });
    const guard = new DeviceGuard({ allowList: [a.path, b.path], inRamdisk: false });
    const node = { properties: { skip_block_devices: [{ name: b.path }, { volume_name: 'keep' }] } };
    const { targets, skipped } = await listTargetDisks(run, guard, { devices: [a.path, b.path], node });
    expect(targets.map((d) => d.path)).toEqual([a.path]);
    expect(skipped.find((s) => s.device.path === b.path)?.reason).toMatch(/skip_block_devices/);
  });
});
