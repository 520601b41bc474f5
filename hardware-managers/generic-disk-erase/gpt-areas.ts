/**
 * Where a device's partition tables are, as `sgdisk -Z` finds them: the primary GPT header
 * (LBA 1), the backup header (where the primary says, and the last LBA) and the
 * partition-entry arrays each header points at. A table relocated with `sgdisk -j`, or one
 * with more than 128 entries, lies beyond the fixed 33 sectors IPA zeroes at each end.
 *
 * Headers are data from the device, so nothing in them is trusted: a header is followed only
 * when it has the signature, says it sits where it was read, has a plausible entry size, and
 * its entry array lies inside the device and within MAX_ENTRY_ARRAY_BYTES. A checksum is not
 * required: a table whose CRC broke still holds names and GUIDs, and erasing what it points
 * at, inside the device and within those bounds, is what the erase is for.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { BlockDeviceEraseError, type BlockDevice } from '../../src/hardware/index.js';

/** Byte range on a device: [offset, offset + length). */
export interface ByteRange {
  offset: number;
  length: number;
}

const SIGNATURE = Buffer.from('EFI PART', 'latin1');
const MIN_HEADER_BYTES = 92;
const MIN_ENTRY_BYTES = 128;
/**
 * 32768 entries of 128 bytes. sgdisk makes 128 by default and any size on request; none
 * seen in use comes near this, and a garbage count must not turn into gigabytes of writes.
 */
const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;

interface GptHeader {
  /** The LBA the header was read from (its own MyLBA field agrees). */
  lba: number;
  alternateLba: number;
  entriesLba: number;
  entryCount: number;
  entryBytes: number;
}

type HeaderVerdict = { header: GptHeader } | { problem: string } | { absent: true };

/** Parses the GPT header in `sector` (read from `lba`), checking it against the device's `totalSectors`. */
function parseGptHeader(sector: Buffer, lba: number, sectorSize: number, totalSectors: number): HeaderVerdict {
  if (sector.length < MIN_HEADER_BYTES || !sector.subarray(0, 8).equals(SIGNATURE)) return { absent: true };
  const headerBytes = sector.readUInt32LE(12);
  const myLba = Number(sector.readBigUInt64LE(24));
  const alternateLba = Number(sector.readBigUInt64LE(32));
  const entriesLba = Number(sector.readBigUInt64LE(72));
  const entryCount = sector.readUInt32LE(80);
  const entryBytes = sector.readUInt32LE(84);
  if (headerBytes < MIN_HEADER_BYTES || headerBytes > sectorSize) return { problem: `header size ${headerBytes}` };
  if (myLba !== lba) return { problem: `it says it is at LBA ${myLba}` };
  // UEFI: 128 × 2^n bytes.
  if (entryBytes < MIN_ENTRY_BYTES || (entryBytes & (entryBytes - 1)) !== 0) return { problem: `entry size ${entryBytes}` };
  const arrayBytes = entryCount * entryBytes;
  if (entryCount === 0 || arrayBytes > MAX_ENTRY_ARRAY_BYTES) {
    return { problem: `${entryCount} entries of ${entryBytes} bytes` };
  }
  const arraySectors = Math.ceil(arrayBytes / sectorSize);
  // LBA 0 is the MBR; 0 < LBA, and the whole array before the end of the device.
  if (!Number.isSafeInteger(entriesLba) || entriesLba < 1 || entriesLba + arraySectors > totalSectors) {
    return { problem: `its entry array at LBA ${entriesLba} (${arraySectors} sectors) is outside the device` };
  }
  return { header: { lba, alternateLba, entriesLba, entryCount, entryBytes } };
}

interface GptAreas {
  /** Header sectors and entry arrays of every header followed. */
  ranges: ByteRange[];
  /** Headers found but not followed, and why (for the log). */
  ignored: string[];
}

/** Header sectors and entry arrays named by `headers`, in bytes. */
function areasOf(headers: readonly GptHeader[], sectorSize: number): ByteRange[] {
  return headers.flatMap((h) => [
    { offset: h.lba * sectorSize, length: sectorSize },
    { offset: h.entriesLba * sectorSize, length: Math.ceil((h.entryCount * h.entryBytes) / sectorSize) * sectorSize },
  ]);
}

/**
 * Reads the primary header and every backup candidate of `device` (read-only) and returns
 * the areas to zero. Through the page cache: nothing has written behind it before a metadata
 * erase, and after a hardware erase a stale cached header would only add areas to zero.
 */
export async function findGptAreas(device: BlockDevice, sectorSize: number): Promise<GptAreas> {
  const totalSectors = Math.floor(device.sizeBytes / sectorSize);
  if (totalSectors < 3) return { ranges: [], ignored: [] };
  const handle = await open(device.path, constants.O_RDONLY);
  try {
    const sector = Buffer.alloc(sectorSize);
    const read = async (lba: number): Promise<HeaderVerdict> => {
      sector.fill(0);
      const { bytesRead } = await handle.read(sector, 0, sectorSize, lba * sectorSize).catch((error: unknown) => {
        throw new BlockDeviceEraseError(`Reading LBA ${lba} of ${device.path} failed: ${(error as Error).message}`);
      });
      return bytesRead === sectorSize ? parseGptHeader(sector, lba, sectorSize, totalSectors) : { absent: true };
    };
    const headers: GptHeader[] = [];
    const ignored: string[] = [];
    const take = (verdict: HeaderVerdict, lba: number) => {
      if ('header' in verdict) headers.push(verdict.header);
      else if ('problem' in verdict) ignored.push(`GPT header at LBA ${lba}: ${verdict.problem}`);
    };
    const primary = await read(1);
    take(primary, 1);
    const backups = new Set([totalSectors - 1]);
    const alternate = 'header' in primary ? primary.header.alternateLba : undefined;
    if (alternate !== undefined) {
      if (Number.isSafeInteger(alternate) && alternate > 1 && alternate < totalSectors) backups.add(alternate);
      else ignored.push(`GPT header at LBA 1: its backup header at LBA ${alternate} is outside the device`);
    }
    for (const lba of backups) take(await read(lba), lba);
    return { ranges: areasOf(headers, sectorSize), ignored };
  } finally {
    await handle.close();
  }
}
