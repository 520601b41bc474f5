import { describe, expect, it } from 'vitest';
import { planArrays } from '../../../hardware-managers/software-raid/mdadm-plan.js';
import {
  partitionNode,
  planPartitions,
  type HolderDisk,
  type PlacedLogicalDisk,
} from '../../../hardware-managers/software-raid/partition-plan.js';
import { orderForPartitioning, type LogicalDisk } from '../../../hardware-managers/software-raid/raid-config.js';

const GiB = 1024 ** 3;
const disks = (...paths: string[]): Map<string, HolderDisk> =>
  new Map(paths.map((path) => [path, { path, sizeBytes: 20 * GiB, logicalSectorSize: 512 }]));
const root: LogicalDisk = { size_gb: 10, raid_level: '1', controller: 'software', volume_name: 'root', is_root_volume: true };
const data = (raid_level: string): LogicalDisk => ({ size_gb: 'MAX', raid_level, controller: 'software', volume_name: 'data' });

function place(logicalDisks: LogicalDisk[], holders: string[]): PlacedLogicalDisk[] {
  return orderForPartitioning(logicalDisks).map((logicalDisk) => ({ logicalDisk, holders }));
}

describe('partition commands (one sgdisk/sfdisk write per holder, IPA geometry)', () => {
  it('UEFI: GPT, first partition from 551 MiB to 10 GiB, MAX after it, Linux RAID type, volume names', () => {
    const holders = ['/dev/vda', '/dev/vdb'];
    const [first] = planPartitions(place([root, data('0')], holders), disks(...holders), 'gpt', 'uefi');
    expect(first!.command).toEqual({
      file: 'sgdisk',
      args: [
        '--clear',
        '--new',
        `1:${(551 * 1024 * 1024) / 512}:${(10 * GiB) / 512 - 1}`,
        '--typecode',
        '1:fd00',
        '--change-name',
        '1:root',
        '--new',
        `2:${(10 * GiB) / 512}:0`,
        '--typecode',
        '2:fd00',
        '--change-name',
        '2:data',
        '/dev/vda',
      ],
    });
  });

  it('BIOS on GPT leaves 8 MiB for the BIOS boot partition; a fixed second volume ends size_gb after the first', () => {
    const holders = ['/dev/sda', '/dev/sdb'];
    const layouts = planPartitions(place([root, { ...data('1'), size_gb: 5 }], holders), disks(...holders), 'gpt', 'bios');
    expect(layouts[1]!.partitions.map((p) => [p.node, p.startSector, p.endSector])).toEqual([
      ['/dev/sdb1', (8 * 1024 * 1024) / 512, (10 * GiB) / 512 - 1],
      ['/dev/sdb2', (10 * GiB) / 512, (15 * GiB) / 512 - 1],
    ]);
  });

  it('BIOS on MBR: an sfdisk script from 1 MiB, type fd, MAX to the end', () => {
    const holders = ['/dev/sda', '/dev/sdb'];
    const [first] = planPartitions(place([data('1'), root], holders), disks(...holders), 'msdos', 'bios');
    expect(first!.command).toEqual({
      file: 'sfdisk',
      args: ['--quiet', '--no-reread', '--no-tell-kernel', '/dev/sda'],
      input: `label: dos\nstart=2048, size=${(10 * GiB) / 512 - 2048}, type=fd\nstart=${(10 * GiB) / 512}, type=fd\n`,
    });
  });

  it('refuses before writing when a volume does not fit or leaves no room after the ESP gap', () => {
    const holders = ['/dev/sda', '/dev/sdb'];
    expect(() => planPartitions(place([{ ...root, size_gb: 25 }], holders), disks(...holders), 'gpt', 'uefi')).toThrow(
      /does not fit on \/dev\/sda: its partition would end at 25 GiB/,
    );
    expect(() => planPartitions(place([{ ...root, size_gb: 0 }], holders), disks(...holders), 'gpt', 'uefi')).toThrow(
      /leaves no room for a partition on \/dev\/sda/,
    );
  });

  it('names partitions as the kernel does: p after a trailing digit', () => {
    expect(['/dev/sda', '/dev/nvme0n1', '/dev/loop3', '/dev/mmcblk0', '/dev/vdb'].map((d) => partitionNode(d, 2))).toEqual([
      '/dev/sda2',
      '/dev/nvme0n1p2',
      '/dev/loop3p2',
      '/dev/mmcblk0p2',
      '/dev/vdb2',
    ]);
  });
});

describe('mdadm --create per level (IPA: --force --run --metadata=1, 1+0 as 10)', () => {
  const holders = ['/dev/vda', '/dev/vdb', '/dev/vdc', '/dev/vdd'];
  it.each([
    ['0', '0'],
    ['1', '1'],
    ['1+0', '10'],
    ['5', '5'],
    ['6', '6'],
  ])('RAID-1 root + RAID-%s data over four disks', (level, mdadmLevel) => {
    const placed = place([root, data(level)], holders);
    const arrays = planArrays(placed, planPartitions(placed, disks(...holders), 'gpt', 'uefi'));
    expect(arrays.map((a) => ['mdadm', ...a.argv])).toEqual([
      [
        'mdadm',
        '--create',
        '/dev/md0',
        '--force',
        '--run',
        '--metadata=1',
        '--level',
        '1',
        '--name',
        'root',
        '--raid-devices',
        '4',
        '/dev/vda1',
        '/dev/vdb1',
        '/dev/vdc1',
        '/dev/vdd1',
      ],
      [
        'mdadm',
        '--create',
        '/dev/md1',
        '--force',
        '--run',
        '--metadata=1',
        '--level',
        mdadmLevel,
        '--name',
        'data',
        '--raid-devices',
        '4',
        '/dev/vda2',
        '/dev/vdb2',
        '/dev/vdc2',
        '/dev/vdd2',
      ],
    ]);
  });

  it('MAX goes last (md1), unnamed volumes are md<i>, taken md numbers are skipped', () => {
    const { volume_name: _v, ...unnamed } = root;
    const placed = place([data('0'), unnamed], ['/dev/nvme0n1', '/dev/nvme1n1']);
    const arrays = planArrays(
      placed,
      planPartitions(placed, disks('/dev/nvme0n1', '/dev/nvme1n1'), 'gpt', 'uefi'),
      new Set(['/dev/md0']),
    );
    expect(arrays.map((a) => [a.device, a.volumeName, a.members])).toEqual([
      ['/dev/md1', 'md0', ['/dev/nvme0n1p1', '/dev/nvme1n1p1']],
      ['/dev/md2', 'data', ['/dev/nvme0n1p2', '/dev/nvme1n1p2']],
    ]);
  });

  it('a volume on some disks only: partition numbers follow each disk’s own order', () => {
    const placed: PlacedLogicalDisk[] = [
      { logicalDisk: root, holders: ['/dev/sda', '/dev/sdb'] },
      { logicalDisk: data('5'), holders: ['/dev/sdb', '/dev/sdc', '/dev/sdd'] },
    ];
    const layouts = planPartitions(placed, disks('/dev/sda', '/dev/sdb', '/dev/sdc', '/dev/sdd'), 'gpt', 'bios');
    expect(planArrays(placed, layouts)[1]!.members).toEqual(['/dev/sdb2', '/dev/sdc1', '/dev/sdd1']);
    // On sdc the data volume is the first partition: it starts in the boot gap, as IPA's.
    expect(layouts.find((l) => l.disk === '/dev/sdc')!.partitions[0]!.startSector).toBe((8 * 1024 * 1024) / 512);
  });
});
