// The parsers of /proc/mdstat and mdadm, on outputs captured in a guest with the md driver
// (test/fixtures/software-raid/README.md): this machine's kernel has none.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDetailExport } from '../../../hardware-managers/software-raid/arrays.js';
import { parseExamine } from '../../../src/hardware/index.js';
import { parseMdstat } from '../../../hardware-managers/software-raid/mdstat.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'software-raid', name), 'utf8');

describe('/proc/mdstat', () => {
  it('a RAID-1 in its initial resync: percent, bytes, rate and ETA; the RAID-0 beside it has none', () => {
    const [data, root] = parseMdstat(fixture('mdstat-raid1-resync-raid0.txt'));
    expect(root).toMatchObject({
      name: 'md0',
      state: 'active',
      personality: 'raid1',
      members: ['vdb1', 'vda1'],
      sizeBytes: 483328 * 1024,
      syncAction: 'resync',
      syncPercent: 66.6,
      syncDoneBytes: 322688 * 1024,
      syncTotalBytes: 483328 * 1024,
      syncEtaSeconds: 0,
      syncRateBytesPerSecond: 29335 * 1024,
    });
    expect(data).toMatchObject({ name: 'md1', personality: 'raid0', members: ['vdc1', 'vdb2', 'vda2'], syncAction: null });
  });

  it('after the resync no array reports a sync', () => {
    expect(parseMdstat(fixture('mdstat-raid1-raid0-in-sync.txt')).map((a) => [a.name, a.syncAction, a.syncPending])).toEqual([
      ['md1', null, false],
      ['md0', null, false],
    ]);
  });

  it('a RAID-5 whose resync waits for the RAID-1 on the same disks is pending, without a percent', () => {
    const [raid5, raid1] = parseMdstat(fixture('mdstat-raid5-delayed-raid1-resync.txt'));
    expect(raid5).toMatchObject({ personality: 'raid5', syncAction: 'resync', syncPending: true, syncPercent: null });
    expect(raid1).toMatchObject({ personality: 'raid1', syncPercent: 18.7, syncEtaSeconds: 42 });
  });

  it('no md driver loaded: no arrays', () => {
    expect(parseMdstat('')).toEqual([]);
  });
});

describe('mdadm', () => {
  it('--detail --export: the volume name without its host part, the UUID, the level, the members', () => {
    expect(parseDetailExport(fixture('mdadm-detail-export-raid1.txt'))).toEqual({
      volumeName: 'root',
      uuid: 'b1022a62:e0a45820:14f39b94:fb57b1d8',
      level: 'raid1',
      components: ['/dev/vda1', '/dev/vdb1'],
    });
  });

  it('--examine: a member shows the superblock; a partitioned holder disk does not, although mdadm succeeds on it', () => {
    expect(parseExamine(fixture('mdadm-examine-member.txt'))).toEqual({
      volumeName: 'root',
      arrayUuid: 'bf2b7063:cbfeeaf7:b9b36bbe:85505751',
    });
    expect(parseExamine(fixture('mdadm-examine-gpt-disk.txt'))).toBeUndefined();
  });
});
