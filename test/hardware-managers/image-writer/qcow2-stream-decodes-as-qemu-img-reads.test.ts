/**
 * The streaming qcow2 decoder, fed real images (made by qemu-img and qemu-io) in chunks of
 * random sizes, rebuilds exactly the disk `qemu-img convert -O raw` reads from them, over a
 * disk that held other bytes; what it does not handle is named before anything is written,
 * and an image whose tables come after more data than it holds is given up, not guessed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeQcow2Header, type Qcow2Header } from '../../../hardware-managers/image-writer/qcow2-header.js';
import {
  type GuestSink,
  Qcow2StreamAbandoned,
  Qcow2StreamDecoder,
  type Qcow2StreamOptions,
} from '../../../hardware-managers/image-writer/qcow2-stream.js';
import {
  holeyRawDisk,
  l2AfterDataQcow2,
  qcow2Of,
  qemuIo,
  qemuReads,
  run,
  setIncompatibleBits,
  SIZES,
} from './qcow2-test-images.js';

const { KIB, MIB } = SIZES;
const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-qcow2-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The guest disk in memory, first filled with 0xa5: a byte the decoder does not write stays so. */
class MemoryDisk implements GuestSink {
  readonly bytes: Buffer;
  constructor(readonly header: Qcow2Header) {
    this.bytes = Buffer.alloc(header.virtualSize, 0xa5);
  }
  #inside(guest: number, length: number): void {
    if (guest < 0 || guest + length > this.header.virtualSize) throw new Error(`write outside the disk: ${guest}+${length}`);
  }
  data(guest: number, bytes: Uint8Array): void {
    this.#inside(guest, bytes.length);
    this.bytes.set(bytes, guest);
  }
  async compressed(guest: number, deflated: Buffer): Promise<void> {
    const cluster = inflateRawSync(deflated);
    expect(cluster.length).toBe(this.header.clusterSize);
    const length = Math.min(cluster.length, this.header.virtualSize - guest);
    this.#inside(guest, length);
    this.bytes.set(cluster.subarray(0, length), guest);
  }
  zero(guest: number, length: number): void {
    this.#inside(guest, length);
    this.bytes.fill(0, guest, guest + length);
  }
}

function headerOf(file: Buffer): Qcow2Header {
  const verdict = judgeQcow2Header(file.subarray(0, 64 * KIB));
  if (!verdict.streamable) throw new Error(`not streamable: ${verdict.reason}`);
  return verdict.header;
}

/** Decodes `file` pushed in chunks of 1 B to 300 KiB, as a download hands it over. */
async function decode(file: Buffer, options: Qcow2StreamOptions = {}): Promise<Buffer> {
  const header = headerOf(file);
  const disk = new MemoryDisk(header);
  const decoder = new Qcow2StreamDecoder(header, file.subarray(0, 64 * KIB), disk, options);
  for (let at = 0; at < file.length;) {
    const n = Math.max(1, Math.floor(Math.random() ** 2 * 300 * KIB));
    await decoder.push(file.subarray(at, at + n));
    at += n;
  }
  await decoder.finish();
  return disk.bytes;
}

async function expectDecodedAsQemuReads(qcow2: string): Promise<void> {
  const decoded = await decode(readFileSync(qcow2));
  const reference = qemuReads(qcow2);
  expect(decoded.length).toBe(reference.length);
  expect(decoded.equals(reference)).toBe(true);
}

describe('a qcow2 decoded as it streams reads as qemu-img reads it', () => {
  const disk = holeyRawDisk(dir, 'disk', 6 * MIB + 1536); // not a whole cluster of any size

  it.each([
    ['512-byte clusters, compat 1.1', 'cluster_size=512,compat=1.1'],
    ['64 KiB clusters, compat 0.10 (version 2)', 'cluster_size=65536,compat=0.10'],
    ['2 MiB clusters', 'cluster_size=2097152,compat=1.1'],
    ['metadata preallocated', 'cluster_size=65536,preallocation=metadata'],
  ])('%s', async (name, options) => {
    await expectDecodedAsQemuReads(qcow2Of(disk, name.replace(/\W+/g, '-'), options));
  });

  it.each([
    ['64 KiB', 65536],
    ['4 KiB', 4096],
    ['512 B', 512],
  ])('compressed (qemu-img convert -c), %s clusters, some stored uncompressed', async (name, clusterSize) => {
    await expectDecodedAsQemuReads(qcow2Of(disk, `compressed-${clusterSize}`, `cluster_size=${clusterSize}`, true));
  });

  it('zero clusters (qemu-io write -z) over data and over holes, allocated and not', async () => {
    const qcow2 = qcow2Of(disk, 'zeroed', 'cluster_size=65536,compat=1.1');
    qemuIo(qcow2, 'write -z 0 192k', 'write -z 1m 1m', 'write -z -u 3m 320k', 'write -P 0x33 5m 8k');
    await expectDecodedAsQemuReads(qcow2);
  });

  it('an internal snapshot taken, then the disk overwritten: the current disk, not the snapshot', async () => {
    const qcow2 = qcow2Of(disk, 'snapshot', 'cluster_size=65536');
    run('qemu-img', ['snapshot', '-c', 'before', qcow2]);
    qemuIo(qcow2, 'write -P 0x5a 64k 256k', 'write -z 2m 128k', 'write -P 0x11 5m 4k', 'discard 4m 64k');
    await expectDecodedAsQemuReads(qcow2);
  });

  it('lazy refcounts, left dirty as a crash leaves it', async () => {
    const qcow2 = qcow2Of(disk, 'lazy', 'cluster_size=65536,lazy_refcounts=on');
    setIncompatibleBits(qcow2, 1n);
    expect(headerOf(readFileSync(qcow2)).version).toBe(3);
    const decoded = await decode(readFileSync(qcow2));
    // qemu-img reads a dirty image read-only as it is (it would repair it only when writing).
    expect(decoded.equals(readFileSync(disk))).toBe(true);
  });

  it('an L2 table after the data it maps: decoded from the bytes held, up to the bound, then given up', async () => {
    const small = l2AfterDataQcow2(dir, 'l2-after-small', 24);
    await expectDecodedAsQemuReads(small);
    const large = l2AfterDataQcow2(dir, 'l2-after-large', 40);
    await expect(decode(readFileSync(large), { holdBytes: MIB })).rejects.toThrow(Qcow2StreamAbandoned);
    await expect(decode(readFileSync(large), { holdBytes: MIB })).rejects.toThrow(/not held \(1048576 bytes are\)/);
  });

  it('gives up when the file is not the one whose header was read', async () => {
    const file = readFileSync(qcow2Of(disk, 'changed', 'cluster_size=65536'));
    const header = headerOf(file);
    const otherHead = Buffer.from(file.subarray(0, 64 * KIB));
    otherHead[200] = otherHead[200]! ^ 0xff;
    const decoder = new Qcow2StreamDecoder(header, otherHead, new MemoryDisk(header));
    await expect(decoder.push(file)).rejects.toThrow(/not the one whose header was read/);
  });
});

describe('what the decoder does not handle is named from the header, before any write', () => {
  const disk = holeyRawDisk(dir, 'small', 2 * MIB);
  const reason = (qcow2: string) => {
    const verdict = judgeQcow2Header(readFileSync(qcow2).subarray(0, 64 * KIB));
    return verdict.streamable ? 'streamable' : verdict.reason;
  };
  const patched = (name: string, at: number, bytes: number[]) => {
    const qcow2 = qcow2Of(disk, name, 'cluster_size=65536');
    const fd = openSync(qcow2, 'r+');
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, at);
    closeSync(fd);
    return qcow2;
  };

  it.each([
    ['extended L2 entries', 'extended_l2=on,cluster_size=65536', /extended L2/],
    ['zstd compression', 'compression_type=zstd', /compression type zstd/],
    ['plain zlib named in the header', 'compression_type=zlib', /streamable/],
  ])('%s', (name, options, expected) => {
    expect(reason(qcow2Of(disk, name.replace(/\W+/g, '-'), options))).toMatch(expected);
  });

  it('a backing file', () => {
    const overlay = join(dir, 'overlay.qcow2');
    execFileSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      qcow2Of(disk, 'base', 'cluster_size=65536'),
      overlay,
    ]);
    expect(reason(overlay)).toBe('a backing file');
  });

  it('encryption, the corrupt bit, feature bits it does not know', () => {
    expect(reason(patched('encrypted', 32, [0, 0, 0, 2]))).toBe('encryption');
    const corrupt = qcow2Of(disk, 'corrupt', 'cluster_size=65536');
    setIncompatibleBits(corrupt, 2n);
    expect(reason(corrupt)).toBe('the corrupt bit set');
    const future = qcow2Of(disk, 'future', 'cluster_size=65536');
    setIncompatibleBits(future, 1n << 20n);
    expect(reason(future)).toMatch(/unknown incompatible features 0x100000/);
  });

  it('not qcow2, or too short to say', () => {
    expect(judgeQcow2Header(readFileSync(disk).subarray(0, 4096))).toEqual({ streamable: false, reason: 'not a qcow2 header' });
    expect(reason(patched('v4', 4, [0, 0, 0, 4]))).toBe('qcow2 version 4');
  });
});
