/**
 * HTTP/1.1 body framing for the direct reader (http-direct.ts): Content-Length, chunked
 * (RFC 9112 §7.1) and read-until-close bodies, each stripping its framing from the received
 * bytes in place so the body stays where the socket put it.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Strips HTTP/1.1 framing from the body bytes in place; `done` once the body is complete. */
export interface Framing {
  /** Keeps the body bytes of `view` at its start; returns how many. */
  decode(view: Uint8Array): number;
  readonly done: boolean;
  /** The connection closed: true when that ends the body (no length was given). */
  endsAtClose(): boolean;
  describe(received: number): string;
}

export function framingFor(status: number, headers: IncomingHttpHeaders): Framing {
  if (status === 204 || status === 304) return new FixedLength(0);
  const encoding = String(headers['transfer-encoding'] ?? '').toLowerCase();
  if (encoding.split(',').some((part) => part.trim() === 'chunked')) return new Chunked();
  const length = headers['content-length'];
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw new Error(`invalid Content-Length ${JSON.stringify(length)}`);
    return new FixedLength(Number(length));
  }
  return new UntilClose();
}

class FixedLength implements Framing {
  #left: number;
  readonly #length: number;
  constructor(length: number) {
    this.#length = length;
    this.#left = length;
  }
  get done(): boolean {
    return this.#left === 0;
  }
  decode(view: Uint8Array): number {
    // Anything past the announced length is not body (the connection closes after it).
    const body = Math.min(view.length, this.#left);
    this.#left -= body;
    return body;
  }
  endsAtClose(): boolean {
    return false;
  }
  describe(received: number): string {
    return `the connection closed after ${received} of ${this.#length} body bytes`;
  }
}

class UntilClose implements Framing {
  #closed = false;
  get done(): boolean {
    return this.#closed;
  }
  decode(view: Uint8Array): number {
    return view.length;
  }
  endsAtClose(): boolean {
    this.#closed = true;
    return true;
  }
  describe(received: number): string {
    return `the connection failed after ${received} body bytes`;
  }
}

/** RFC 9112 §7.1: hex size line (extensions ignored), data, CRLF; a zero size, trailers, an empty line. */
class Chunked implements Framing {
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  #line = '';
  #left = 0;
  get done(): boolean {
    return this.#state === 'done';
  }
  decode(view: Uint8Array): number {
    let write = 0;
    let read = 0;
    while (read < view.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, view.length - read);
        if (write !== read) view.copyWithin(write, read, read + n);
        write += n;
        read += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'data-end';
        continue;
      }
      const byte = view[read++]!;
      if (byte !== 0x0a) {
        if (this.#line.length > 4096) throw new Error('malformed chunked body: a line longer than 4 KiB');
        this.#line += String.fromCharCode(byte);
        continue;
      }
      const line = this.#line.replace(/\r$/, '');
      this.#line = '';
      if (this.#state === 'data-end') {
        if (line !== '') throw new Error('malformed chunked body: no CRLF after a chunk');
        this.#state = 'size';
      } else if (this.#state === 'size') {
        const size = /^([0-9a-fA-F]+)\s*(;.*)?$/.exec(line);
        if (!size) throw new Error(`malformed chunk size ${JSON.stringify(line.slice(0, 40))}`);
        this.#left = Number.parseInt(size[1]!, 16);
        this.#state = this.#left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.#state = 'done';
      }
    }
    return write;
  }
  endsAtClose(): boolean {
    return false;
  }
  describe(received: number): string {
    return `the connection closed after ${received} body bytes, inside a chunked body`;
  }
}
