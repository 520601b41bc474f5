// erase_devices_metadata zeroes the partition tables where the GPT headers say they are:
// entry arrays moved away from the start (`sgdisk -j`), larger than 128 entries, on 4 KiB
// sectors, as `sgdisk -Z` would, and afterwards blkid, wipefs and sgdisk find nothing. A
// damaged header pointing outside the device is not followed. Real loop devices (and plain
// files) with tables made by sgdisk; the content is read back from the backing file.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { gptSectors } from '../../../hardware-managers/generic-disk-erase/metadata.js';
import { describeFileDevice, type BlockDevice } from '../../../src/hardware/index.js';
import { readBytes } from '../../helpers/file-bytes.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { dropPartitions, eraseMetadata, listed, partition, probe } from './helpers.js';

const MIB = 1024 * 1024;
const scratch = new ScratchDevices();
afterEach(() => {
  dropPartitions();
  scratch.cleanup();
});

const asRoot = it.runIf(process.getuid?.() === 0 && hasTool('losetup'));
function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function writeBytes(file: string, offset: number, data: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

interface Table {
  headerLba: number;
  entriesLba: number;
  entriesBytes: number;
}

/** The primary and backup GPT as written by sgdisk, read straight from the backing file. */
function tablesOf(file: string, sectorSize: number): Table[] {
  const header = (lba: number): Table => {
    const sector = readBytes(file, lba * sectorSize, sectorSize);
    expect(sector.subarray(0, 8).toString('latin1')).toBe('EFI PART');
    return {
      headerLba: lba,
      entriesLba: Number(sector.readBigUInt64LE(72)),
      entriesBytes: sector.readUInt32LE(80) * sector.readUInt32LE(84),
    };
  };
  const primary = header(1);
  const backupLba = Number(readBytes(file, sectorSize + 32, 8).readBigUInt64LE(0));
  return [primary, header(backupLba)];
}

const isZero = (data: Buffer) => data.every((byte) => byte === 0);

function expectTablesZeroed(file: string, tables: Table[], sectorSize: number): void {
  for (const table of tables) {
    expect(isZero(readBytes(file, table.headerLba * sectorSize, sectorSize)), `header at LBA ${table.headerLba}`).toBe(true);
    const entries = readBytes(file, table.entriesLba * sectorSize, table.entriesBytes);
    expect(isZero(entries), `entries at LBA ${table.entriesLba}`).toBe(true);
  }
}

function sgdiskFindsNoTable(path: string): boolean {
  return execFileSync('sgdisk', ['-p', path], { encoding: 'utf8' }).includes('Creating new GPT entries');
}

/** Byte offsets of a loop device's partitions, as the kernel knows them. */
function partitionStarts(device: BlockDevice): number[] {
  return device.partitions.map((p) => Number(readFileSync(`/sys/class/block/${p.name}/start`, 'utf8')) * 512);
}

/** A GPT header at LBA 1 as a damaged or hostile table might have it (no valid CRC). */
function forgedHeader(fields: { alternateLba: bigint; entriesLba: bigint; entryCount: number; entryBytes: number }): Buffer {
  const sector = Buffer.alloc(512);
  sector.write('EFI PART', 0, 'latin1');
  sector.writeUInt32LE(0x00010000, 8);
  sector.writeUInt32LE(92, 12);
  sector.writeBigUInt64LE(1n, 24);
  sector.writeBigUInt64LE(fields.alternateLba, 32);
  sector.writeBigUInt64LE(fields.entriesLba, 72);
  sector.writeUInt32LE(fields.entryCount, 80);
  sector.writeUInt32LE(fields.entryBytes, 84);
  return sector;
}

describe('erase_devices_metadata on GPT disks', () => {
  asRoot('a GPT with filesystems on its partitions: tables, filesystems and kernel partitions gone', async () => {
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 32 });
    partition(disk, ['-n1:0:+8M', '-n2:0:+8M']);
    execFileSync('mkfs.ext4', ['-q', '-F', `${disk.path}p1`], { stdio: 'ignore' });
    execFileSync('mkfs.vfat', [`${disk.path}p2`], { stdio: 'ignore' });
    execFileSync('sync');
    expect(probe(`${disk.path}p1`)).toMatch(/TYPE=ext4/);
    expect(probe(`${disk.path}p2`)).toMatch(/TYPE=vfat/);
    const tables = tablesOf(disk.file, 512);
    const device = await listed(disk.path);
    const starts = partitionStarts(device);
    expect(starts).toHaveLength(2);
    for (const start of starts) expect(isZero(readBytes(disk.file, start, 4096))).toBe(false);

    const { report } = await eraseMetadata(device);

    expect(report.verify).toMatchObject({ method: 'no_signature', passed: true });
    expectTablesZeroed(disk.file, tables, 512);
    // Where ext4's and FAT's superblocks were.
    for (const start of starts) expect(isZero(readBytes(disk.file, start, 4096))).toBe(true);
    expect(probe(disk.path)).toBe('');
    expect(execFileSync('wipefs', ['--no-act', disk.path], { encoding: 'utf8' }).trim()).toBe('');
    expect(sgdiskFindsNoTable(disk.path)).toBe(true);
    // The kernel no longer lists the partitions.
    expect(existsSync(`${disk.path}p1`)).toBe(false);
    expect(await listed(disk.path)).toMatchObject({ partitions: [] });
  });

  asRoot('an entry array moved away from the start (sgdisk -j) is zeroed where the header says', async () => {
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 32 });
    partition(disk, ['-j', '4096', '-n1:0:+4M', '-n2:0:+4M']);
    const tables = tablesOf(disk.file, 512);
    expect(tables[0]!.entriesLba).toBe(4096);
    // Beyond IPA's fixed sectors, and holding the two entries.
    expect(tables[0]!.entriesLba).toBeGreaterThan(gptSectors(512));
    expect(isZero(readBytes(disk.file, 4096 * 512, 256))).toBe(false);

    const { report } = await eraseMetadata(await listed(disk.path));

    expect(report.verify.passed).toBe(true);
    expectTablesZeroed(disk.file, tables, 512);
    expect(probe(disk.path)).toBe('');
    expect(sgdiskFindsNoTable(disk.path)).toBe(true);
  });

  // The kernel gives a loop device 255 partition numbers: 256 entries, partition 200.
  asRoot('a table of 256 entries with partition 200 in use is zeroed whole, at both ends', async () => {
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 32 });
    partition(disk, ['--resize-table=256', '-n1:0:+4M', '-n200:0:+1M']);
    const tables = tablesOf(disk.file, 512);
    for (const table of tables) {
      expect(table.entriesBytes).toBe(256 * 128);
      // Entry 200 lies past the 33 sectors IPA zeroes at each end.
      const entry200 = table.entriesLba * 512 + 199 * 128;
      expect(isZero(readBytes(disk.file, entry200, 128))).toBe(false);
    }

    const { report } = await eraseMetadata(await listed(disk.path));

    expect(report.verify.passed).toBe(true);
    expectTablesZeroed(disk.file, tables, 512);
    expect(execFileSync('wipefs', ['--no-act', disk.path], { encoding: 'utf8' }).trim()).toBe('');
    expect(sgdiskFindsNoTable(disk.path)).toBe(true);
  });

  asRoot('4 KiB logical sectors: the entry sector IPA misses (LBA 5) is zeroed too', async () => {
    const disk = scratch.create({ sizeMiB: 32, randomMiB: 32, logicalSectorSize: 4096 });
    partition(disk, ['-n1:0:+4M', '-n100:0:+4M']);
    const device = await listed(disk.path);
    expect(device.logicalSectorSize).toBe(4096);
    const tables = tablesOf(disk.file, 4096);
    // 128 entries of 128 bytes fill LBA 2-5; IPA zeroes 20 KiB, LBA 0-4. Entry 100 is in LBA 5.
    expect(tables[0]!.entriesLba).toBe(2);
    expect(gptSectors(4096)).toBe(5);
    expect(isZero(readBytes(disk.file, 2 * 4096 + 99 * 128, 128))).toBe(false);

    const { report } = await eraseMetadata(device);

    expect(report.verify.passed).toBe(true);
    expectTablesZeroed(disk.file, tables, 4096);
    expect(probe(disk.path)).toBe('');
    expect(sgdiskFindsNoTable(disk.path)).toBe(true);
  });
});

describe('a damaged GPT header is not followed outside the device', () => {
  const forged = [
    [
      'its entry array and backup far past the end',
      { alternateLba: 1n << 40n, entriesLba: 1n << 40n, entryCount: 128, entryBytes: 128 },
    ],
    ['an entry array of 2^31 entries', { alternateLba: 16383n, entriesLba: 4096n, entryCount: 0x8000_0000, entryBytes: 128 }],
    ['an entry size of 2^31 bytes', { alternateLba: 16383n, entriesLba: 4096n, entryCount: 128, entryBytes: 0x8000_0000 }],
  ] as const;

  for (const [what, fields] of forged) {
    for (const kind of ['plain file', 'loop device'] as const) {
      const test = kind === 'plain file' ? it : asRoot;
      test(`${what} (${kind}): the erase writes only the fixed areas`, async () => {
        const disk = scratch.create({ sizeMiB: 8, randomMiB: 8, plainFile: kind === 'plain file' });
        writeBytes(disk.file, 512, forgedHeader(fields));
        const middle = readBytes(disk.file, 33 * 512, 8 * MIB - 66 * 512);
        const device = kind === 'plain file' ? await describeFileDevice(disk.file) : await listed(disk.path);

        const { report, fake } = await eraseMetadata(device);

        expect(report.verify.passed).toBe(true);
        expect(statSync(disk.file).size).toBe(8 * MIB);
        expect(readBytes(disk.file, 33 * 512, middle.length).equals(middle)).toBe(true);
        expect(isZero(readBytes(disk.file, 0, 33 * 512))).toBe(true);
        expect(fake.logs.some((l) => l.level === 'warn' && /not following a damaged GPT header at LBA 1/.test(l.msg))).toBe(true);
      });
    }
  }

  it('a header without a valid checksum but pointing inside the device is followed', async () => {
    const disk = scratch.create({ sizeMiB: 8, randomMiB: 8, plainFile: true });
    writeBytes(disk.file, 512, forgedHeader({ alternateLba: 16383n, entriesLba: 4096n, entryCount: 128, entryBytes: 128 }));
    const after = readBytes(disk.file, 4128 * 512, 512);

    const { report } = await eraseMetadata(await describeFileDevice(disk.file));

    expect(report.verify.passed).toBe(true);
    expect(isZero(readBytes(disk.file, 4096 * 512, 32 * 512))).toBe(true);
    // Only the array: the sector after it keeps its data.
    expect(readBytes(disk.file, 4128 * 512, 512).equals(after)).toBe(true);
  });
});
