/**
 * A qcow2 decoded in file order, as it downloads: the L1 table names the L2 tables, each L2
 * table maps guest clusters to bytes further on in the file, and each byte is handed on as it
 * passes: data to its guest offset, deflated clusters whole (to be inflated), and what the
 * image does not allocate as zero ranges. Nothing is read twice and nothing waits for the end.
 *
 * Nothing guarantees that a table comes before the bytes it maps (qemu-img's files put each
 * L2 table before its data, but an image that took a snapshot and was written after it has
 * new L2 tables after old data, and a compressed image starts each L2 table's first cluster
 * in the space left over before it). So while tables are still to come, the bytes no known
 * mapping took are kept, the last `holdBytes` of them (RecentBytes); a mapping of bytes that
 * were dropped abandons the decoding (Qcow2StreamAbandoned), and the caller converts with
 * qemu-img instead. Bytes a data mapping took are not kept: qemu never maps a host cluster
 * twice in one image's active tables (its copy-on-write allocates new ones).
 */
import type { Qcow2Header } from './qcow2-header.js';
import { decodeL2Table, l2TableOffsets, Qcow2CorruptError, type Qcow2Mapping } from './qcow2-tables.js';
import { RecentBytes } from './recent-bytes.js';

/** Where the decoded guest disk goes; a promise holds the decoding back until it settles. */
export interface GuestSink {
  /** Guest bytes at `guest`; `bytes` is valid only until the call (or its promise) returns. */
  data(guest: number, bytes: Uint8Array): void | Promise<void>;
  /** A deflated cluster (zlib, raw deflate) for the guest cluster at `guest`; `deflated` is valid only until the call (or its promise) returns. */
  compressed(guest: number, deflated: Buffer): void | Promise<void>;
  /** Guest bytes that read as zeros. */
  zero(guest: number, length: number): void | Promise<void>;
}

/** The image cannot be decoded as it streams (a reason for the log and the result); qemu-img can still try. */
export class Qcow2StreamAbandoned extends Error {}

interface Claim {
  start: number;
  end: number;
  kind: 'header' | 'l1' | 'l2' | 'data' | 'compressed';
  /** l2: its L1 index; data/compressed: the guest offset of `start`. */
  at: number;
  /** Bytes gathered so far (not for data, which passes straight on). */
  buffer?: Buffer;
}

export interface Qcow2StreamOptions {
  /** Bytes kept for tables that come after what they map (default 32 MiB). */
  holdBytes?: number;
  /** Mappings known ahead of their bytes, at most (each is a small object; default 256 Ki). */
  maxPending?: number;
}

const DEFAULT_HOLD_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_PENDING = 256 * 1024;
const SECTOR = 512;
const idleHeld: RecentBytes[] = [];
/** Data handed on from the held bytes in pieces of at most this. */
const REPLAY_PIECE = 1024 * 1024;

export class Qcow2StreamDecoder {
  readonly #header: Qcow2Header;
  readonly #head: Buffer;
  readonly #sink: GuestSink;
  readonly #held: RecentBytes;
  readonly #maxPending: number;
  /** Claims on bytes still to come, a min-heap by start. */
  #pending: Claim[] = [];
  /** Claims being filled: they started at or before the current position. */
  #active: Claim[] = [];
  #position = 0;
  /** L1 and L2 tables not yet read: while any is, unclaimed bytes are held. */
  #tablesToCome = 0;
  /** Buffers of completed deflated clusters, for the next (16,000 per GiB of garbage otherwise). */
  readonly #spare: Buffer[] = [];

  constructor(header: Qcow2Header, head: Uint8Array, sink: GuestSink, options: Qcow2StreamOptions = {}) {
    this.#header = header;
    this.#head = Buffer.from(head);
    this.#sink = sink;
    const holdBytes = options.holdBytes ?? DEFAULT_HOLD_BYTES;
    const idle = idleHeld.findIndex((held) => held.capacity === holdBytes);
    this.#held = idle >= 0 ? idleHeld.splice(idle, 1)[0]! : new RecentBytes(holdBytes);
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.reset();
  }

  /**
   * The decoding is over: its held bytes' memory goes to the next decoder. A compressed
   * image touches it all, and left for the collector it stayed in RSS write after write.
   */
  release(): void {
    this.#held.reset();
    if (idleHeld.length < 2) idleHeld.push(this.#held);
  }

  /** File bytes decoded so far. */
  get position(): number {
    return this.#position;
  }

  /** Start over at file byte 0 (the download did). */
  reset(): void {
    this.#pending = [];
    this.#active = [];
    this.#position = 0;
    this.#held.reset();
    // The header read before the decision must be what arrives, or the decision was about another file.
    this.#claim({ start: 0, end: this.#head.length, kind: 'header', at: 0 });
    this.#tablesToCome = 1;
    if (this.#header.l1Entries === 0) this.#tablesToCome = 0;
    else
      this.#claim({ start: this.#header.l1Offset, end: this.#header.l1Offset + this.#header.l1Entries * 8, kind: 'l1', at: 0 });
  }

  /** The next bytes of the file. */
  async push(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      while (this.#pending.length > 0 && this.#pending[0]!.start <= this.#position) this.#active.push(popMin(this.#pending));
      let next = this.#position + chunk.length - offset;
      if (this.#pending.length > 0) next = Math.min(next, this.#pending[0]!.start);
      for (const claim of this.#active) next = Math.min(next, claim.end);
      const piece = chunk.subarray(offset, offset + next - this.#position);
      if (this.#tablesToCome > 0) this.#hold(piece);
      for (const claim of this.#active) await this.#feed(claim, piece, this.#position);
      this.#position = next;
      offset += piece.length;
      await this.#completeActive();
    }
  }

  /**
   * The file ended after `fileBytes`: what the tables map beyond its end reads as zeros, as
   * qemu reads it (a preallocated image may end before its last clusters).
   */
  async finish(): Promise<void> {
    for (;;) {
      while (this.#pending.length > 0) this.#active.push(popMin(this.#pending));
      if (this.#active.length === 0) return;
      for (const claim of this.#active) {
        const from = Math.max(claim.start, this.#position);
        if (claim.kind === 'data') await this.#sink.zero(claim.at + from - claim.start, claim.end - from);
        else if (claim.kind === 'header') throw new Qcow2StreamAbandoned('the image is shorter than its header');
        else if (claim.kind === 'compressed') claim.buffer = (claim.buffer ?? Buffer.alloc(0)).subarray(0, from - claim.start);
        else claim.buffer?.fill(0, from - claim.start);
        claim.end = Math.min(claim.end, Math.max(claim.start, this.#position));
      }
      await this.#completeActive(true);
    }
  }

  /**
   * Keeps the bytes a table still to come may map. Not those a data mapping took, nor the
   * inside of a deflated cluster: qemu packs deflated clusters byte by byte, so only the
   * sectors at either end of one may also hold the start or end of another.
   */
  #hold(piece: Uint8Array): void {
    const start = this.#position;
    let skipFrom = Infinity;
    let skipTo = -Infinity;
    for (const claim of this.#active) {
      if (claim.kind === 'data') [skipFrom, skipTo] = [start, start + piece.length];
      else if (claim.kind === 'compressed') {
        const insideFrom = (Math.floor(claim.start / SECTOR) + 1) * SECTOR;
        const insideTo = Math.floor((claim.end - 1) / SECTOR) * SECTOR;
        if (insideFrom < insideTo) [skipFrom, skipTo] = [Math.min(skipFrom, insideFrom), Math.max(skipTo, insideTo)];
      }
    }
    const from = Math.min(Math.max(skipFrom, start), start + piece.length) - start;
    const to = Math.max(Math.min(skipTo, start + piece.length), start + from) - start;
    this.#held.append(piece.subarray(0, from));
    this.#held.skip(to - from);
    this.#held.append(piece.subarray(to));
  }

  async #feed(claim: Claim, piece: Uint8Array, position: number): Promise<void> {
    if (claim.kind === 'data') {
      await this.#sink.data(claim.at + position - claim.start, piece);
      return;
    }
    claim.buffer ??= this.#bufferFor(claim);
    claim.buffer.set(piece, position - claim.start);
  }

  async #completeActive(all = false): Promise<void> {
    const done = this.#active.filter((claim) => all || claim.end <= this.#position);
    if (done.length === 0) return;
    this.#active = this.#active.filter((claim) => !done.includes(claim));
    for (const claim of done) await this.#complete(claim);
  }

  async #complete(claim: Claim): Promise<void> {
    const bytes = claim.buffer ?? Buffer.alloc(claim.end - claim.start);
    switch (claim.kind) {
      case 'header':
        if (!bytes.equals(this.#head)) throw new Qcow2StreamAbandoned('the image is not the one whose header was read');
        return;
      case 'l1': {
        const offsets = this.#tables(() => l2TableOffsets(bytes, this.#header));
        this.#tablesToCome = offsets.filter((offset) => offset !== 0).length;
        for (const [index, offset] of offsets.entries()) {
          const guest = index * this.#header.l2Reach;
          if (offset === 0) await this.#sink.zero(guest, Math.min(this.#header.l2Reach, this.#header.virtualSize - guest));
          else await this.#replayOrClaim({ start: offset, end: offset + this.#header.clusterSize, kind: 'l2', at: index });
        }
        return;
      }
      case 'l2': {
        const mappings: Qcow2Mapping[] = [];
        this.#tables(() => decodeL2Table(bytes, claim.at, this.#header, (mapping) => mappings.push(mapping)));
        this.#tablesToCome--;
        for (const mapping of mappings) {
          if (mapping.kind === 'zero') await this.#sink.zero(mapping.guest, mapping.length);
          else
            await this.#replayOrClaim({
              start: mapping.host,
              end: mapping.host + mapping.length,
              kind: mapping.kind,
              at: mapping.guest,
            });
        }
        return;
      }
      case 'compressed':
        await this.#sink.compressed(claim.at, bytes);
        if (claim.buffer?.buffer.byteLength === 2 * this.#header.clusterSize) this.#spare.push(Buffer.from(claim.buffer.buffer));
        return;
      case 'data':
        return;
    }
  }

  /** A claim on bytes still to come waits for them; one on bytes that passed is served from the held bytes. */
  async #replayOrClaim(claim: Claim): Promise<void> {
    if (claim.start >= this.#position) {
      this.#claim(claim);
      return;
    }
    const passed = Math.min(claim.end, this.#position);
    for (let at = claim.start; at < passed; at += REPLAY_PIECE) {
      const piece = Buffer.allocUnsafe(Math.min(REPLAY_PIECE, passed - at));
      if (!this.#held.copyTo(piece, at)) {
        throw new Qcow2StreamAbandoned(
          `file bytes at ${at} are mapped by a table read ${this.#position - at} bytes after them, ` +
            `and were not held (${this.#held.capacity} bytes are)`,
        );
      }
      await this.#feed(claim, piece, at);
    }
    if (claim.end <= this.#position) await this.#complete(claim);
    else this.#active.push(claim);
  }

  #bufferFor(claim: Claim): Buffer {
    const length = claim.end - claim.start;
    // A deflated cluster takes at most twice the cluster size (its sector count field's range).
    if (claim.kind !== 'compressed' || length > 2 * this.#header.clusterSize) return Buffer.alloc(length);
    return (this.#spare.pop() ?? Buffer.allocUnsafeSlow(2 * this.#header.clusterSize)).subarray(0, length);
  }

  #claim(claim: Claim): void {
    if (claim.end <= claim.start) return;
    if (this.#pending.length >= this.#maxPending) {
      throw new Qcow2StreamAbandoned(`more than ${this.#maxPending} mappings wait for their bytes`);
    }
    pushHeap(this.#pending, claim);
  }

  #tables<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof Qcow2CorruptError) throw new Qcow2StreamAbandoned(error.message);
      throw error;
    }
  }
}

function pushHeap(heap: Claim[], claim: Claim): void {
  heap.push(claim);
  for (let i = heap.length - 1; i > 0;) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.start <= heap[i]!.start) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function popMin(heap: Claim[]): Claim {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left]!.start < heap[smallest]!.start) smallest = left;
      if (right < heap.length && heap[right]!.start < heap[smallest]!.start) smallest = right;
      if (smallest === i) break;
      [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
      i = smallest;
    }
  }
  return top;
}
