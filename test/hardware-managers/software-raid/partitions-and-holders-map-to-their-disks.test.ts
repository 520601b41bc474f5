// Which disk an md member partition is on (delete_configuration removes that partition, the
// ESP mirror records it), and create_configuration refusing disks an active array still holds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertNotHeld, diskOfPartition } from '../../../hardware-managers/software-raid/holders.js';
import { describeFileDevice, type BlockDevice } from '../../../src/hardware/index.js';

describe('diskOfPartition', () => {
  it('takes the disk whose path the partition number follows, not any prefix', () => {
    expect(diskOfPartition('/dev/sdaa1', ['/dev/sda', '/dev/sdaa'])).toBe('/dev/sdaa');
    expect(diskOfPartition('/dev/sda1', ['/dev/sdaa', '/dev/sda'])).toBe('/dev/sda');
    expect(diskOfPartition('/dev/nvme0n1p2', ['/dev/nvme0n10', '/dev/nvme0n1'])).toBe('/dev/nvme0n1');
    expect(diskOfPartition('/dev/nvme0n10p1', ['/dev/nvme0n1', '/dev/nvme0n10'])).toBe('/dev/nvme0n10');
    expect(diskOfPartition('/dev/nvme0n11', ['/dev/nvme0n1'])).toBeUndefined();
    expect(diskOfPartition('/dev/md127p1', ['/dev/md127'])).toBe('/dev/md127');
    expect(diskOfPartition('/dev/sda', ['/dev/sda'])).toBeUndefined();
    expect(diskOfPartition('/dev/sdb1', ['/dev/sda'])).toBeUndefined();
  });
});

describe('assertNotHeld', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raid-holders-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A real device description (of a file), as listBlockDevices gives it, named as a disk. */
  async function diskNamed(path: string, holders: string[] = [], partitionHolders: string[] = []): Promise<BlockDevice> {
    const file = join(dir, path.replaceAll('/', '_'));
    writeFileSync(file, '');
    const base = await describeFileDevice(file);
    const partition = { ...base, path: `${path}1`, holders: partitionHolders };
    return { ...base, path, holders, partitions: partitionHolders.length > 0 ? [partition] : [] };
  }

  it('names each disk an active array or device-mapper device is built on, and by what', async () => {
    const disks = [
      await diskNamed('/dev/sda', ['md127']),
      await diskNamed('/dev/sdb', [], ['dm-0']),
      await diskNamed('/dev/sdc'),
    ];
    expect(() => assertNotHeld(disks)).toThrow(
      'Devices /dev/sda (held by md127), /dev/sdb (held by dm-0) are in use by an active RAID or device-mapper device: run delete_configuration first',
    );
  });

  it('lets free disks through', async () => {
    const free = await diskNamed('/dev/sdd');
    expect(() => assertNotHeld([free])).not.toThrow();
  });
});
