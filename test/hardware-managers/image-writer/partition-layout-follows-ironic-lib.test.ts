/**
 * The partition image's layout is IPA's `make_partitions` with `boot_option` local: the parted
 * command lines below are the ones IPA's own unit tests expect (ironic_python_agent/tests/unit/
 * test_disk_utils.py, MakePartitionsTestCase: root 1024 MiB, swap 512 MiB, ESP 550 MiB,
 * BIOS boot 1 MiB), and the partition paths its `partition_index_to_path` gives.
 */
import { describe, expect, it } from 'vitest';
import {
  partedArguments,
  partitionPath,
  planPartitions,
  type LayoutRequest,
} from '../../../hardware-managers/image-writer/partition-layout.js';

const base: LayoutRequest = {
  rootMb: 1024,
  swapMb: 512,
  ephemeralMb: 0,
  configdriveMb: 0,
  bootMode: 'bios',
  diskLabel: 'msdos',
  cpuArch: 'x86_64',
  efiSystemPartitionMb: 550,
  biosBootPartitionMb: 1,
};
const parted = (label: string, ...mkpart: string[]) => [
  '-a',
  'optimal',
  '-s',
  'fake-dev',
  '--',
  'unit',
  'MiB',
  'mklabel',
  label,
  ...mkpart,
];
const plan = (request: Partial<LayoutRequest>) => partedArguments('fake-dev', planPartitions({ ...base, ...request }));

describe("partition image layout (IPA's make_partitions)", () => {
  it('msdos + BIOS: swap, then root last with the boot flag', () => {
    expect(plan({})).toEqual(
      parted(
        'msdos',
        'mkpart',
        'primary',
        'linux-swap',
        '1',
        '513',
        'mkpart',
        'primary',
        '',
        '513',
        '1537',
        'set',
        '2',
        'boot',
        'on',
      ),
    );
  });

  it('GPT + UEFI: the ESP first (fat32, boot flag), swap, root', () => {
    expect(plan({ bootMode: 'uefi', diskLabel: 'gpt' })).toEqual(
      parted(
        'gpt',
        ...['mkpart', 'primary', 'fat32', '1', '551', 'set', '1', 'boot', 'on'],
        ...['mkpart', 'primary', 'linux-swap', '551', '1063'],
        ...['mkpart', 'primary', '', '1063', '2087'],
      ),
    );
  });

  it('GPT + BIOS: a BIOS boot partition first (bios_grub), no boot flag on root', () => {
    expect(plan({ diskLabel: 'gpt' })).toEqual(
      parted(
        'gpt',
        ...['mkpart', 'primary', '', '1', '2', 'set', '1', 'bios_grub', 'on'],
        ...['mkpart', 'primary', 'linux-swap', '2', '514'],
        ...['mkpart', 'primary', '', '514', '1538'],
      ),
    );
  });

  it('ppc64: an 8 MiB PReP partition (boot flag too on msdos), no BIOS boot partition', () => {
    expect(plan({ cpuArch: 'ppc64le' })).toEqual(
      parted(
        'msdos',
        ...['mkpart', 'primary', '', '1', '9', 'set', '1', 'boot', 'on', 'set', '1', 'prep', 'on'],
        ...['mkpart', 'primary', 'linux-swap', '9', '521', 'mkpart', 'primary', '', '521', '1545'],
      ),
    );
    expect(plan({ cpuArch: 'ppc64le', diskLabel: 'gpt' })).toEqual(
      parted(
        'gpt',
        ...['mkpart', 'primary', '', '1', '9', 'set', '1', 'prep', 'on'],
        ...['mkpart', 'primary', 'linux-swap', '9', '521', 'mkpart', 'primary', '', '521', '1545'],
      ),
    );
  });

  it('ephemeral before swap, the config drive after it, root last; roles numbered in that order', () => {
    const layout = planPartitions({ ...base, ephemeralMb: 2048, configdriveMb: 1 });
    expect(partedArguments('fake-dev', layout)).toEqual(
      parted(
        'msdos',
        ...['mkpart', 'primary', '', '1', '2049', 'mkpart', 'primary', 'linux-swap', '2049', '2561'],
        ...['mkpart', 'primary', '', '2561', '2562', 'mkpart', 'primary', '', '2562', '3586', 'set', '4', 'boot', 'on'],
      ),
    );
    expect(layout.partitions.map((p) => [p.role, p.number])).toEqual([
      ['ephemeral', 1],
      ['swap', 2],
      ['configdrive', 3],
      ['root', 4],
    ]);
    expect(layout.endMib).toBe(3586);
  });

  it('no swap, no ephemeral: root alone', () => {
    expect(plan({ swapMb: 0 })).toEqual(parted('msdos', 'mkpart', 'primary', '', '1', '1025', 'set', '1', 'boot', 'on'));
  });

  it('partition paths as partition_index_to_path names them', () => {
    expect(partitionPath('/dev/sda', 3)).toBe('/dev/sda3');
    expect(partitionPath('/dev/nvmefake-9', 3)).toBe('/dev/nvmefake-9p3');
    expect(partitionPath('/dev/loop7', 1)).toBe('/dev/loop7p1');
  });
});
