/**
 * A real md 1.2 superblock, written byte for byte as mdadm writes one (Linux's
 * `struct mdp_superblock_1`, 4 KiB into the member, checksum as mdadm's calc_sb_1_csum), on a
 * scratch device or partition the test made. This machine's kernel has no md driver, so
 * `mdadm --create` cannot make one here, while `mdadm --examine` and blkid read it as a
 * member's ("Checksum : … - correct"). The member of a two-device RAID-0, as the e2e
 * scenario's `kept` volume (test/fixtures/software-raid/mdadm-examine-kept-raid0-member-0.txt).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

const MAGIC = 0xa92b4efc;
const SUPER_OFFSET_SECTORS = 8n;
/** The member's data from 1 MiB on (`Data Offset : 2048 sectors`). */
const DATA_OFFSET_SECTORS = 2048n;
const MAX_DEV = 2;

/** `name` as mdadm stores it (`host:volume`); `memberSectors`: the device's size in sectors. */
export function writeMdSuperblock(devicePath: string, name: string, memberSectors: number): void {
  const sb = Buffer.alloc(256 + MAX_DEV * 2);
  const now = BigInt(Math.floor(Date.now() / 1000));
  sb.writeUInt32LE(MAGIC, 0);
  sb.writeUInt32LE(1, 4); // major_version
  randomBytes(16).copy(sb, 16); // set_uuid (the Array UUID)
  sb.write(name, 32, 32, 'utf8'); // set_name
  sb.writeBigUInt64LE(now, 64); // ctime
  sb.writeInt32LE(0, 72); // level: raid0
  sb.writeUInt32LE(1024, 88); // chunksize: 512 KiB
  sb.writeUInt32LE(2, 92); // raid_disks
  sb.writeBigUInt64LE(DATA_OFFSET_SECTORS, 128);
  sb.writeBigUInt64LE(BigInt(memberSectors) - DATA_OFFSET_SECTORS, 136); // data_size
  sb.writeBigUInt64LE(SUPER_OFFSET_SECTORS, 144);
  sb.writeUInt32LE(0, 160); // dev_number
  randomBytes(16).copy(sb, 168); // device_uuid
  sb.writeBigUInt64LE(now, 192); // utime
  sb.writeBigUInt64LE(0xffffffffffffffffn, 208); // resync_offset: in sync
  sb.writeUInt32LE(MAX_DEV, 220);
  sb.writeUInt16LE(0, 256); // dev_roles: device 0 is role 0, device 1 role 1
  sb.writeUInt16LE(1, 258);
  let sum = 0n;
  for (let i = 0; i + 4 <= sb.length; i += 4) sum += BigInt(sb.readUInt32LE(i));
  sb.writeUInt32LE(Number(((sum & 0xffffffffn) + (sum >> 32n)) & 0xffffffffn), 216); // sb_csum, an unsigned int in C
  const fd = openSync(devicePath, 'r+');
  try {
    writeSync(fd, sb, 0, sb.length, Number(SUPER_OFFSET_SECTORS) * 512);
  } finally {
    closeSync(fd);
  }
}
