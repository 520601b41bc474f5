/**
 * The last few MiB of a download, kept in memory in stream order, so that reads trailing the
 * download closely are answered without touching the device: on a disk that is being
 * written at full speed, reading back what was just written cost several times what the
 * read itself costs on an idle one. Bounded: a fixed ring, the oldest bytes overwritten.
 */
export class RecentBytes {
  readonly #ring: Buffer;
  /** Stream bytes appended since the start (or the last reset); the ring holds the last of them. */
  #end = 0;
  /** Stream ranges passed over with `skip` (not held), oldest first, merged. */
  readonly #skipped: [number, number][] = [];

  /** Pages are only touched as the ring fills: memory grows with the download up to `capacity`. */
  constructor(capacity: number) {
    this.#ring = Buffer.allocUnsafeSlow(capacity);
  }

  get capacity(): number {
    return this.#ring.length;
  }

  /** Stream bytes appended so far. */
  get end(): number {
    return this.#end;
  }

  /** The next bytes of the stream. */
  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const capacity = this.#ring.length;
    let data = chunk;
    if (data.length > capacity) {
      this.#end += data.length - capacity;
      data = data.subarray(data.length - capacity);
    }
    const at = this.#end % capacity;
    const first = Math.min(data.length, capacity - at);
    this.#ring.set(data.subarray(0, first), at);
    if (first < data.length) this.#ring.set(data.subarray(first), 0);
    this.#end += data.length;
  }

  /** The next `bytes` of the stream are not kept: reads of them fail. */
  skip(bytes: number): void {
    if (bytes === 0) return;
    const last = this.#skipped.at(-1);
    if (last && last[1] === this.#end) last[1] += bytes;
    else this.#skipped.push([this.#end, this.#end + bytes]);
    this.#end += bytes;
    while (this.#skipped.length > 0 && this.#skipped[0]![1] <= this.#end - this.#ring.length) this.#skipped.shift();
  }

  /** The stream starts over from byte 0: nothing held is valid any more. */
  reset(): void {
    this.#end = 0;
    this.#skipped.length = 0;
  }

  /**
   * Copies stream bytes [position, position + target.length) into `target` when every one of
   * them is still held; false (and `target` untouched) otherwise.
   */
  copyTo(target: Uint8Array, position: number): boolean {
    const capacity = this.#ring.length;
    const length = target.length;
    if (position < 0 || position < this.#end - capacity || position + length > this.#end) return false;
    if (this.#skipped.some(([start, end]) => start < position + length && position < end)) return false;
    const at = position % capacity;
    const first = Math.min(length, capacity - at);
    target.set(this.#ring.subarray(at, at + first), 0);
    if (first < length) target.set(this.#ring.subarray(0, length - first), first);
    return true;
  }
}
