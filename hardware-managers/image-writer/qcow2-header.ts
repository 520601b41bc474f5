/**
 * The qcow2 header (qemu's docs/interop/qcow2.txt, versions 2 and 3), read from the image's
 * first bytes to decide, before anything is written, whether the image can be decoded as it
 * streams (qcow2-stream.ts). Only what that decoder handles is accepted: anything else
 * (encryption, a backing or external data file, extended L2 entries, a compression type
 * other than zlib, a corrupt image, feature bits this code does not know) gets a reason and
 * goes the qemu-img way, which refuses what IPA refuses (a backing file) with its own message.
 */

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  /** The guest disk's size in bytes. */
  virtualSize: number;
  l1Offset: number;
  /** L1 entries that map [0, virtualSize): the table may hold more, which map nothing. */
  l1Entries: number;
  /** Guest bytes one L2 table maps. */
  l2Reach: number;
}

export type Qcow2Verdict = { streamable: true; header: Qcow2Header } | { streamable: false; reason: string };

const MAGIC = 0x514649fb; // 'QFI\xfb'
const V2_HEADER_BYTES = 72;
const V3_MIN_HEADER_BYTES = 104;

/** Incompatible feature bits (header byte 72, v3). */
const DIRTY = 1n << 0n;
const CORRUPT = 1n << 1n;
const EXTERNAL_DATA_FILE = 1n << 2n;
const COMPRESSION_TYPE = 1n << 3n;
const EXTENDED_L2 = 1n << 4n;
const KNOWN_INCOMPATIBLE = DIRTY | CORRUPT | EXTERNAL_DATA_FILE | COMPRESSION_TYPE | EXTENDED_L2;

/** Header extension types that change how the image reads; the others (feature names, bitmaps, backing format) do not. */
const EXTENSION_END = 0;
const EXTENSION_ENCRYPTION = 0x0537be77;
const EXTENSION_DATA_FILE = 0x44415441;

const COMPRESSION_NAMES = ['zlib', 'zstd'];

/**
 * Whether the qcow2 whose first bytes are `head` can be decoded as it streams. A dirty image
 * (lazy refcounts, not closed cleanly) is accepted: only its refcounts may be stale, and the
 * decoder reads none.
 */
export function judgeQcow2Header(head: Uint8Array): Qcow2Verdict {
  const view = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const refuse = (reason: string): Qcow2Verdict => ({ streamable: false, reason });
  if (view.length < V2_HEADER_BYTES) return refuse(`only ${view.length} bytes of its header could be read`);
  if (view.readUInt32BE(0) !== MAGIC) return refuse('not a qcow2 header');
  const version = view.readUInt32BE(4);
  if (version !== 2 && version !== 3) return refuse(`qcow2 version ${version}`);
  if (readU64(view, 8) !== 0) return refuse('a backing file');
  const clusterBits = view.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) return refuse(`cluster_bits ${clusterBits} outside 9-21`);
  const clusterSize = 2 ** clusterBits;
  const virtualSize = readU64(view, 24);
  if (!Number.isSafeInteger(virtualSize)) return refuse('a virtual size beyond 2^53 bytes');
  if (view.readUInt32BE(32) !== 0) return refuse('encryption');
  const l1Size = view.readUInt32BE(36);
  const l1Offset = readU64(view, 40);
  const l2Reach = (clusterSize / 8) * clusterSize;
  const l1Entries = Math.ceil(virtualSize / l2Reach);
  if (l1Entries > l1Size) return refuse(`an L1 table of ${l1Size} entries for ${l1Entries} L2 tables`);
  if (l1Entries > 0 && (l1Offset === 0 || l1Offset % clusterSize !== 0 || !Number.isSafeInteger(l1Offset))) {
    return refuse(`an L1 table at ${l1Offset}, not a cluster boundary`);
  }

  let headerBytes = V2_HEADER_BYTES;
  if (version === 3) {
    if (view.length < V3_MIN_HEADER_BYTES) return refuse(`only ${view.length} bytes of its header could be read`);
    const incompatible = view.readBigUInt64BE(72);
    if (incompatible & ~KNOWN_INCOMPATIBLE) return refuse(`unknown incompatible features 0x${incompatible.toString(16)}`);
    if (incompatible & CORRUPT) return refuse('the corrupt bit set');
    if (incompatible & EXTERNAL_DATA_FILE) return refuse('an external data file');
    if (incompatible & EXTENDED_L2) return refuse('extended L2 entries (subclusters)');
    headerBytes = view.readUInt32BE(100);
    if (headerBytes < V3_MIN_HEADER_BYTES || headerBytes % 8 !== 0) return refuse(`a header length of ${headerBytes}`);
    if (incompatible & COMPRESSION_TYPE) {
      if (view.length < 105 || headerBytes < 112) return refuse('a compression type outside its header');
      const type = view[104]!;
      if (type !== 0) return refuse(`compression type ${COMPRESSION_NAMES[type] ?? type}`);
    }
  }
  // Header extensions, each 8-byte aligned, up to an end marker, all within the first cluster.
  for (let at = headerBytes; ;) {
    if (at + 8 > view.length || at + 8 > clusterSize) return refuse('header extensions beyond the bytes read');
    const type = view.readUInt32BE(at);
    const length = view.readUInt32BE(at + 4);
    if (type === EXTENSION_END) break;
    if (type === EXTENSION_ENCRYPTION) return refuse('an encryption header');
    if (type === EXTENSION_DATA_FILE) return refuse('an external data file');
    at += 8 + Math.ceil(length / 8) * 8;
  }
  return {
    streamable: true,
    header: { version, clusterBits, clusterSize, virtualSize, l1Offset, l1Entries, l2Reach },
  };
}

/** A big-endian u64 as a number; above 2^53 it is no longer exact, which callers check. */
function readU64(view: Buffer, at: number): number {
  return view.readUInt32BE(at) * 2 ** 32 + view.readUInt32BE(at + 4);
}
