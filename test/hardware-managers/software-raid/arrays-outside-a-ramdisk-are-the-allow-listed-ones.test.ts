// Outside a ramdisk, the arrays the RAID steps see are only those with a member on an
// allow-listed disk: the machine's own arrays are not queried with mdadm at all. One built on
// an allow-listed disk and a foreign one is still listed, so delete_configuration can report
// it left alone. In a ramdisk every array is the agent's.
// The kernel's /proc/mdstat and sysfs are laid out in a temporary tree (this machine's kernel
// has no md driver); mdadm cannot describe arrays that do not exist, so the exec records the
// queries and answers as mdadm does for an array it cannot open (nothing on stdout), or with
// a captured `mdadm --examine` of a member. An inactive array (md127, one mdadm could not
// start) reports no name: its allow-listed member's superblock gives it, so that a kept
// volume is known as kept.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listArrays, mdDevicesInUse } from '../../../hardware-managers/software-raid/arrays.js';
import { DeviceGuard, type ExecResult } from '../../../src/hardware/index.js';

const MDSTAT = `Personalities : [raid1]
md0 : active raid1 loop0p1[0] loop1p1[1]
      1046528 blocks super 1.2 [2/2] [UU]

md1 : active raid1 sda1[0] sdb1[1]
      975585280 blocks super 1.2 [2/2] [UU]

md2 : active raid1 loop0p2[0] sdc1[1]
      1046528 blocks super 1.2 [2/2] [UU]

md127 : inactive loop1p2[1](S)
      1046528 blocks super 1.2

unused devices: <none>
`;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-md-'));
  mkdirSync(join(root, 'proc'));
  writeFileSync(join(root, 'proc', 'mdstat'), MDSTAT);
  const block = join(root, 'sys', 'devices', 'virtual', 'block');
  mkdirSync(join(root, 'sys', 'class', 'block'), { recursive: true });
  const device = (path: string, partition = false) => {
    mkdirSync(join(block, path), { recursive: true });
    if (partition) writeFileSync(join(block, path, 'partition'), '1\n');
    symlinkSync(join('..', '..', 'devices', 'virtual', 'block', path), join(root, 'sys', 'class', 'block', basename(path)));
  };
  for (const disk of ['loop0', 'loop1', 'sda', 'sdb', 'sdc']) device(disk);
  for (const part of ['loop0/loop0p1', 'loop0/loop0p2', 'loop1/loop1p1', 'loop1/loop1p2', 'sda/sda1', 'sdb/sdb1', 'sdc/sdc1'])
    device(part, true);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const KEPT_MEMBER = readFileSync(
  join(import.meta.dirname, '..', '..', 'fixtures', 'software-raid', 'mdadm-examine-kept-raid0-member-1.txt'),
  'utf8',
);

function context(inRamdisk: boolean, answers: Record<string, string> = {}) {
  const queried: string[] = [];
  const exec = (file: string, args: readonly string[] = []): Promise<ExecResult> => {
    const command = [file, ...args].join(' ');
    queried.push(command);
    const stdout = answers[command] ?? '';
    return Promise.resolve({ command: file, exitCode: stdout ? 0 : 1, stdout, stderr: '', durationMs: 0 });
  };
  const guard = new DeviceGuard({ allowList: ['/dev/loop0', '/dev/loop1'], inRamdisk, sysRoot: join(root, 'sys') });
  return { exec, guard, queried };
}

describe('the arrays the RAID steps see', () => {
  it('outside a ramdisk: those on allow-listed disks; the machine’s own are not queried', async () => {
    const ctx = context(false);
    const arrays = await listArrays(ctx, [], join(root, 'proc'));
    expect(arrays.map((a) => a.device)).toEqual(['/dev/md0', '/dev/md2', '/dev/md127']);
    expect(arrays.find((a) => a.device === '/dev/md2')?.components).toEqual(['/dev/loop0p2', '/dev/sdc1']);
    expect(arrays.find((a) => a.device === '/dev/md127')?.components).toEqual(['/dev/loop1p2']);
    expect(ctx.queried).toEqual([
      'mdadm --detail --export /dev/md0',
      'mdadm --detail --export /dev/md2',
      'mdadm --detail --export /dev/md127',
      'mdadm --examine /dev/loop1p2',
    ]);
  });

  it('an inactive array is named by its member’s superblock (a kept volume that did not start stays kept)', async () => {
    const ctx = context(false, { 'mdadm --examine /dev/loop1p2': KEPT_MEMBER });
    const arrays = await listArrays(ctx, [], join(root, 'proc'));
    expect(arrays.map((a) => [a.device, a.volumeName])).toEqual([
      ['/dev/md0', null],
      ['/dev/md2', null],
      ['/dev/md127', 'kept'],
    ]);
  });

  it('the md names in use, for a new array to avoid, include the machine’s own arrays', async () => {
    expect([...(await mdDevicesInUse(join(root, 'proc')))]).toEqual(['/dev/md0', '/dev/md1', '/dev/md2', '/dev/md127']);
  });

  it('in a ramdisk: every array', async () => {
    const ctx = context(true);
    const arrays = await listArrays(ctx, [], join(root, 'proc'));
    expect(arrays.map((a) => a.device)).toEqual(['/dev/md0', '/dev/md1', '/dev/md2', '/dev/md127']);
    expect(ctx.queried).toHaveLength(5);
    expect(ctx.queried.at(-1)).toBe('mdadm --examine /dev/loop1p2');
  });
});
