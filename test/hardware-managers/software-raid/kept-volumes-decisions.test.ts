// Which devices delete_configuration's sweep zeroes, and what create_configuration finds
// existing, with volumes kept by skip_block_devices [{"volume_name": ...}]. Superblocks are
// read from mdadm --examine output captured from the e2e guest's disks
// (test/fixtures/software-raid/README.md); the arrays are as listArrays reports them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExistingArray } from '../../../hardware-managers/software-raid/arrays.js';
import { parseExamine, type ExaminedSuperblock } from '../../../src/hardware/index.js';
import {
  assertKeptVolumesAssembled,
  decideArrays,
  existingLogicalDisks,
  planSweep,
} from '../../../hardware-managers/software-raid/kept-volumes.js';
import type { LogicalDisk } from '../../../hardware-managers/software-raid/raid-config.js';
import type { ExecResult } from '../../../src/hardware/index.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'software-raid', name), 'utf8');
const KEPT_A = fixture('mdadm-examine-kept-raid0-member-0.txt');
const KEPT_B = fixture('mdadm-examine-kept-raid0-member-1.txt');
const ROOT = fixture('mdadm-examine-member.txt');
const GPT_DISK = fixture('mdadm-examine-gpt-disk.txt');

const superblock = (text: string): ExaminedSuperblock => parseExamine(text)!;
const disks = [
  { path: '/dev/sdb', partitions: ['/dev/sdb1', '/dev/sdb2'] },
  { path: '/dev/sdc', partitions: ['/dev/sdc1', '/dev/sdc2'] },
];

describe("delete_configuration's sweep of left-over superblocks", () => {
  it('reads the volume name and array of a kept RAID-0 member; a partitioned disk has no superblock', () => {
    expect(parseExamine(KEPT_A)).toEqual({ volumeName: 'kept', arrayUuid: expect.stringMatching(/^[0-9a-f:]{35}$/) });
    expect(parseExamine(KEPT_B)!.arrayUuid).toBe(parseExamine(KEPT_A)!.arrayUuid);
    expect(parseExamine(GPT_DISK)).toBeUndefined();
  });

  it('never zeroes the members of a kept volume that did not assemble, and keeps their disks’ partition tables', () => {
    // The RAID-1 "root" was deleted this pass (its members zeroed); the kept RAID-0 never
    // assembled, so no array protects its members; a stale root superblock is left on sdb1.
    const found = new Map([
      ['/dev/sdb1', superblock(ROOT)],
      ['/dev/sdb2', superblock(KEPT_A)],
      ['/dev/sdc2', superblock(KEPT_B)],
    ]);
    const plan = planSweep(disks, found, new Set(), ['kept']);
    expect(plan.zero).toEqual(['/dev/sdb1']);
    expect([...plan.keptMembers]).toEqual([
      ['/dev/sdb2', 'kept'],
      ['/dev/sdc2', 'kept'],
    ]);
    expect([...plan.keptDisks]).toEqual(['/dev/sdb', '/dev/sdc']);
  });

  it('without a kept volume every left-over superblock goes, partitions before their disk', () => {
    const found = new Map([
      ['/dev/sdb2', superblock(KEPT_A)],
      ['/dev/sdb', superblock(ROOT)],
      ['/dev/sdc2', superblock(KEPT_B)],
    ]);
    const plan = planSweep(disks, found, new Set(), ['other']);
    expect(plan.zero).toEqual(['/dev/sdb2', '/dev/sdb', '/dev/sdc2']);
    expect(plan.keptDisks.size).toBe(0);
  });

  it('members of arrays kept or wiped this pass stay, and so do their disks; other partitions there are swept (IPA)', () => {
    const found = new Map([
      ['/dev/sdb1', superblock(ROOT)],
      ['/dev/sdb2', superblock(ROOT)],
      ['/dev/sdc1', superblock(ROOT)],
    ]);
    const plan = planSweep(disks, found, new Set(['/dev/sdb2', '/dev/sdc2', '/dev/sdb', '/dev/sdc']), ['kept']);
    expect(plan.zero).toEqual(['/dev/sdb1', '/dev/sdc1']);
    expect([...plan.keptDisks]).toEqual(['/dev/sdb', '/dev/sdc']);
  });
});

const array = (device: string, volumeName: string | null, components: string[]): ExistingArray => ({
  device,
  volumeName,
  uuid: null,
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

  it('a kept volume whose members did not assemble fails the step, naming it, before anything is written', async () => {
    const examined: string[] = [];
    const exec = (file: string, args: readonly string[] = []): Promise<ExecResult> => {
      examined.push(args.at(-1)!);
      const stdout = { '/dev/sdb2': KEPT_A, '/dev/sdc2': KEPT_B, '/dev/sdb': GPT_DISK }[args.at(-1)!] ?? '';
      return Promise.resolve({ command: file, exitCode: stdout ? 0 : 1, stdout, stderr: '', durationMs: 0 });
    };
    await expect(assertKeptVolumesAssembled({ exec }, disks, [], ['kept'])).rejects.toThrow(
      'Software RAID volumes on the skip list are not assembled: kept (members /dev/sdb2, /dev/sdc2)',
    );
    expect(examined).toEqual(['/dev/sdb1', '/dev/sdb2', '/dev/sdb', '/dev/sdc1', '/dev/sdc2', '/dev/sdc']);
    await expect(assertKeptVolumesAssembled({ exec }, disks, [keptArray], ['kept'])).resolves.toBeUndefined();
  });
});
