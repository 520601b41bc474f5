// What create_configuration finds existing after delete_configuration kept a volume
// (skip_block_devices [{"volume_name": ...}]): the arrays as listArrays reports them, judged
// as delete_configuration judges them.
import { describe, expect, it } from 'vitest';
import type { ExistingArray } from '../../../hardware-managers/software-raid/arrays.js';
import { decideArrays, existingLogicalDisks } from '../../../hardware-managers/software-raid/kept-volumes.js';
import type { LogicalDisk } from '../../../hardware-managers/software-raid/raid-config.js';

const array = (device: string, volumeName: string | null, components: string[]): ExistingArray => ({
  device,
  volumeName,
  level: 'raid1',
  components,
  holderDisks: [...new Set(components.map((c) => c.replace(/\d+$/, '')))],
});
const root: LogicalDisk = { size_gb: 1, raid_level: '1', controller: 'software', volume_name: 'root', is_root_volume: true };
const kept: LogicalDisk = { size_gb: 'MAX', raid_level: '0', controller: 'software', volume_name: 'kept' };
const rootArray = array('/dev/md0', 'root', ['/dev/sdb1', '/dev/sdc1']);
const keptArray = array('/dev/md1', 'kept', ['/dev/sdb2', '/dev/sdc2']);

describe('create_configuration after delete_configuration kept a volume (IPA master’s _create_raid_ignore_list)', () => {
  it('the kept volume and the wiped array beside it exist already: nothing is created again', () => {
    expect([...decideArrays([rootArray, keptArray], ['kept'])]).toEqual([
      ['/dev/md0', 'wipe'],
      ['/dev/md1', 'keep'],
    ]);
    expect(existingLogicalDisks([root, kept], [rootArray, keptArray], ['kept'])).toEqual([root, kept]);
  });

  it('a kept ESP beside the kept volume is not in the way', () => {
    const esp = array('/dev/md2', 'esp', ['/dev/sdb3', '/dev/sdc3']);
    expect(existingLogicalDisks([root, kept], [rootArray, keptArray, esp], ['kept'])).toEqual([root, kept]);
  });

  it('an array no logical disk names, one on other disks, a kept volume the config leaves out: IPA’s error', () => {
    const other = array('/dev/md2', 'root', ['/dev/sdd1', '/dev/sde1']);
    const should = 'Existing Software RAID device detected that should not';
    expect(() => existingLogicalDisks([kept], [rootArray, keptArray], ['kept'])).toThrow(should);
    expect(() => existingLogicalDisks([root, kept], [other, keptArray], ['kept'])).toThrow(should);
    expect(() => existingLogicalDisks([root], [keptArray], ['kept'])).toThrow(should);
  });

  it('an unnamed array: IPA’s error', () => {
    expect(() => existingLogicalDisks([root, kept], [keptArray, array('/dev/md0', null, ['/dev/sdb1'])], ['kept'])).toThrow(
      /does not have a volume name/,
    );
  });
});
