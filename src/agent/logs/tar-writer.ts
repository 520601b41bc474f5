/**
 * A minimal POSIX tar writer for regular files held in memory: enough for the log bundle,
 * without a temporary directory in the ramdisk's RAM and without piping binary output
 * through the (text) exec wrapper. GNU tar, busybox tar and Python's tarfile (what Ironic
 * uses to unpack the bundle) all read it.
 *
 * Entries are ustar; a name ustar cannot hold (more than 100 bytes after the last `/` that
 * fits a 155-byte prefix) or that is not ASCII gets a PAX extended header (`x`) with its
 * `path` first, as IPA's bundle has: Python's tarfile writes PAX by default and does the
 * same for those names. A long /var/log path once failed the whole bundle here.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);
const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading slash. */
  name: string;
  data: string | Buffer;
  mode?: number;
  mtime?: Date;
}

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, then NUL.
  writeString(header, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** Splits a long name into ustar's prefix (155) and name (100) fields; undefined if it cannot be. */
function splitName(name: string): { prefix: string; base: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  return undefined;
}

/** The first `max` bytes of `value` in UTF-8, not cutting a character. */
function truncateBytes(value: string, max: number): string {
  let out = '';
  for (const char of value) {
    if (Buffer.byteLength(out + char) > max) break;
    out += char;
  }
  return out;
}

/** One PAX record, `"<length> <key>=<value>\n"`, whose length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return Buffer.from(`${length}${body}`, 'utf8');
}

interface HeaderFields {
  name: string;
  prefix: string;
  size: number;
  mode: number;
  mtime: Date;
  /** `0` a regular file, `x` a PAX extended header for the entry that follows. */
  type: '0' | 'x';
}

function headerBlock(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.floor(fields.mtime.getTime() / 1000));
  block.fill(' ', 148, 156); // checksum is computed with spaces here
  block.write(fields.type, 156);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 265, 32, 'root');
  writeString(block, 297, 32, 'root');
  writeString(block, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return block;
}

function pushData(parts: Buffer[], data: Buffer): void {
  parts.push(data);
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  if (padding) parts.push(Buffer.alloc(padding));
}

export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
    const mtime = entry.mtime ?? new Date();
    const split = splitName(entry.name);
    if (!split || /[^\x00-\x7f]/.test(entry.name)) {
      const records = paxRecord('path', entry.name);
      // Python's tarfile names the extended header so; readers without PAX extract it as a file.
      parts.push(headerBlock({ name: '././@PaxHeader', prefix: '', size: records.length, mode: 0o644, mtime, type: 'x' }));
      pushData(parts, records);
    }
    // Readers that know PAX take the path above; the others get as much of it as fits.
    const { prefix, base } = split ?? { prefix: '', base: truncateBytes(entry.name, 100) };
    parts.push(headerBlock({ name: base, prefix, size: data.length, mode: entry.mode ?? 0o644, mtime, type: '0' }));
    pushData(parts, data);
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive
  return Buffer.concat(parts);
}

export async function tarGz(entries: readonly TarEntry[]): Promise<Buffer> {
  return gzipAsync(tar(entries));
}
