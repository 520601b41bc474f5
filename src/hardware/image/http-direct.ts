/**
 * An HTTP or HTTPS GET whose body the socket reads straight into the caller's buffers (net's
 * and tls's `onread`): no 64 KiB chunk allocated per read, no stream machinery per chunk, no
 * copy from the chunk into the image writer's aligned buffers. Receiving an image through
 * node:http cost about 1.5 s of CPU per GiB before the first byte was hashed or written
 * (profiled: the parser and stream callbacks, the copy into the writer, and the garbage
 * collector freeing the chunks); read this way the kernel's copy (over TLS: OpenSSL's copy
 * of each decrypted record) into the writer's buffer is all that is left. The response is
 * also a Readable (copies), for small bodies and error texts.
 *
 * A TLS socket keeps delivering after it is paused: pausing stops reading from the TCP
 * socket, but every record already received is still decrypted and handed to the
 * callback, into whatever buffer was named last. Those reads land in the scratch buffer
 * and are kept (copied) until the target has room again; written into the target while
 * its buffers were all in flight, they corrupted the image (a different checksum per run).
 *
 * Only what an image download needs: GET, `Connection: close`, Content-Length, chunked or
 * read-until-close bodies, interim 1xx answers skipped. Proxies go through node:http
 * (http-transport.ts).
 */
import { connect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { type Framing, framingFor } from './http-framing.js';

/** Where a body is read to: `space()` is the next free memory, `commit(n)` says its first `n` bytes are body. */
export interface BodyTarget {
  /** Non-empty; valid until the next `commit`. */
  space(): Uint8Array;
  /** A promise makes the reader wait (and the socket stop reading) until it settles. */
  commit(bytes: number): void | Promise<void>;
}

const SCRATCH_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

export interface DirectRequest {
  url: URL;
  headers: OutgoingHttpHeaders;
  /** No data for this long ends the request or the body. */
  stallMs: number;
  signal?: AbortSignal | undefined;
  /** For https: URLs: the CA bundle, client certificate and whether the server is verified. */
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> | undefined;
}

/** Sends a GET and resolves with the response once its headers arrived (any status). */
export function directGet(request: DirectRequest): Promise<DirectResponse> {
  return new DirectResponse(request).headersReceived;
}

type Mode = 'headers' | 'paused' | 'stream' | 'direct';

export class DirectResponse extends Readable {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  readonly headersReceived: Promise<DirectResponse>;
  readonly #socket: Socket;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  #mode: Mode = 'headers';
  #head = Buffer.alloc(0);
  #framing: Framing | undefined;
  /** Body bytes received before the caller chose how to read them (already decoded). */
  #early: Buffer[] = [];
  /** Body bytes a TLS socket delivered while the target had no room (already decoded). */
  readonly #backlog: Buffer[] = [];
  #received = 0;
  #target: BodyTarget | undefined;
  #waiting = false;
  #onBytes: ((bytes: number) => void) | undefined;
  #settleDirect: { resolve(): void; reject(error: Error): void } | undefined;
  #failure: Error | undefined;
  readonly #resolveHeaders: (response: DirectResponse) => void;
  readonly #rejectHeaders: (error: Error) => void;

  constructor(request: DirectRequest) {
    super({ highWaterMark: SCRATCH_BYTES });
    const { url, stallMs, signal } = request;
    let resolveHeaders!: (response: DirectResponse) => void;
    let rejectHeaders!: (error: Error) => void;
    this.headersReceived = new Promise((resolve, reject) => {
      resolveHeaders = resolve;
      rejectHeaders = reject;
    });
    this.#resolveHeaders = resolveHeaders;
    this.#rejectHeaders = rejectHeaders;
    const text = requestText(url, request.headers);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const onread: OnReadOpts = {
      buffer: () => this.#nextBuffer(),
      callback: (n: number, buffer: Uint8Array) => this.#onRead(n, buffer),
    };
    if (url.protocol === 'https:') {
      // tls.connect passes `onread` on to the socket it creates; its types do not list it.
      const options: ConnectionOptions & { onread: OnReadOpts } = {
        host,
        port: Number(url.port || 443),
        // `host` is what the certificate is checked against; SNI carries names only (RFC 6066).
        ...(isIP(host) ? {} : { servername: host }),
        ...request.tls,
        onread,
      };
      this.#socket = tlsConnect(options);
    } else {
      this.#socket = connect({ host, port: Number(url.port || 80), onread });
    }
    this.#socket.setNoDelay(true);
    this.#socket.setTimeout(stallMs, () => this.#fail(new Error(`no data for ${stallMs / 1000} s`)));
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('end', () => this.#onEnd());
    this.#socket.on('close', () => this.#onEnd());
    this.#socket.write(text);
    // Failures reach the reader through readInto, headersReceived or iteration; a body
    // nobody reads any more must not take the process down with an unhandled 'error'.
    this.on('error', () => undefined);
    if (signal) {
      const abort = () => this.#fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal.aborted) abort();
      else {
        signal.addEventListener('abort', abort, { once: true });
        this.#socket.once('close', () => signal.removeEventListener('abort', abort));
      }
    }
  }

  /**
   * Reads the rest of the body into `target`, calling `onBytes` after each commit. Rejects
   * when the connection ends early, stalls or fails, or when `target.commit` throws.
   */
  async readInto(target: BodyTarget, onBytes: (bytes: number) => void): Promise<void> {
    if (this.#mode !== 'paused') throw new Error('the body is already being read');
    this.#mode = 'direct';
    this.#onBytes = onBytes;
    const finished = new Promise<void>((resolve, reject) => (this.#settleDirect = { resolve, reject }));
    // A failure before anything waits on `finished` must not surface as unhandled.
    finished.catch(() => undefined);
    try {
      for (const early of this.#early.splice(0)) await this.#copyInto(target, early);
    } catch (error) {
      this.#fail(error as Error);
    }
    this.#target = target;
    if (this.#failure) this.#settleDirect!.reject(this.#failure);
    else if (this.#framing!.done) this.#finish();
    else this.#socket.resume();
    await finished;
  }

  override _read(): void {
    if (this.#failure) {
      this.destroy(this.#failure);
      return;
    }
    if (this.#mode === 'paused') {
      this.#mode = 'stream';
      for (const early of this.#early.splice(0)) this.push(early);
      if (this.#framing!.done) this.#finish();
    }
    if (this.#mode === 'stream' && !this.#socket.destroyed) this.#socket.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed by its owner (the transport closing, a probe that read enough): a direct
    // read in progress must end too.
    if (!this.#framing?.done) this.#fail(error ?? new Error('the response was closed before its end'));
    this.#socket.destroy();
    callback(error);
  }

  #nextBuffer(): Uint8Array {
    if (this.#mode === 'direct' && this.#target && !this.#waiting) return this.#target.space();
    return this.#scratch;
  }

  #onRead(n: number, buffer: Uint8Array): boolean {
    try {
      if (this.#mode === 'headers') return this.#onHeaderBytes(buffer.subarray(0, n));
      const view = buffer.subarray(0, n);
      const body = this.#decode(view);
      if (this.#mode === 'direct' && this.#waiting) {
        // Only a TLS socket reads while paused (see the top of this file).
        if (body > 0) this.#backlog.push(Buffer.from(view.subarray(0, body)));
      } else if (this.#mode === 'direct' && buffer !== this.#scratch) {
        this.#commit(body);
      } else if (this.#mode === 'direct') {
        // The socket had to be handed the scratch buffer while the target was full (it
        // asks for the next buffer right after each read): this one read is copied in.
        this.#copyIn(view.subarray(0, body));
      } else if (this.#mode === 'stream') {
        if (body > 0 && !this.push(Buffer.from(view.subarray(0, body)))) this.#pause();
      } else if (body > 0) {
        this.#early.push(Buffer.from(view.subarray(0, body)));
      }
      if (this.#framing?.done && !this.#waiting) this.#finish();
    } catch (error) {
      this.#fail(error as Error);
    }
    return !this.#socket.isPaused();
  }

  #onHeaderBytes(bytes: Uint8Array): boolean {
    this.#head = Buffer.concat([this.#head, bytes]);
    for (;;) {
      const end = this.#head.indexOf(HEADER_END);
      if (end < 0) {
        if (this.#head.length > MAX_HEADER_BYTES) throw new Error(`response headers longer than ${MAX_HEADER_BYTES} bytes`);
        return true;
      }
      const { status, headers } = parseHead(this.#head.subarray(0, end).toString('latin1'));
      const rest = this.#head.subarray(end + HEADER_END.length);
      if (status >= 100 && status < 200) {
        this.#head = Buffer.from(rest);
        continue;
      }
      this.statusCode = status;
      this.headers = headers;
      this.#framing = framingFor(status, headers);
      this.#mode = 'paused';
      this.#head = Buffer.alloc(0);
      this.#pause();
      const body = this.#decode(rest);
      if (body > 0) this.#early.push(Buffer.from(rest.subarray(0, body)));
      this.#resolveHeaders(this);
      return false;
    }
  }

  #decode(view: Uint8Array): number {
    const body = this.#framing!.decode(view);
    this.#received += body;
    return body;
  }

  #commit(bytes: number): void {
    const pending = this.#target!.commit(bytes);
    this.#onBytes?.(bytes);
    if (pending) this.#wait(pending);
  }

  #copyIn(bytes: Uint8Array): void {
    const target = this.#target!;
    for (let offset = 0; offset < bytes.length;) {
      const space = target.space();
      const n = Math.min(space.length, bytes.length - offset);
      space.set(bytes.subarray(offset, offset + n));
      offset += n;
      const pending = target.commit(n);
      this.#onBytes?.(n);
      if (pending) {
        // The scratch buffer is reused by the next read: keep what is left.
        const rest = Buffer.from(bytes.subarray(offset));
        this.#wait(pending.then(() => this.#copyInto(target, rest)));
        return;
      }
    }
  }

  /** Stop reading until the target has room again. */
  #wait(pending: Promise<void>): void {
    this.#waiting = true;
    this.#pause();
    pending
      .then(() => this.#drainBacklog())
      .then(
        () => this.#resumeDirect(),
        (error: Error) => this.#fail(error),
      );
  }

  /** What arrived while waiting goes in first, in order; more may arrive meanwhile. */
  async #drainBacklog(): Promise<void> {
    for (let next = this.#backlog.shift(); next; next = this.#backlog.shift()) {
      if (this.#failure) return;
      await this.#copyInto(this.#target!, next);
    }
  }

  async #copyInto(target: BodyTarget, bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length;) {
      const space = target.space();
      const n = Math.min(space.length, bytes.length - offset);
      space.set(bytes.subarray(offset, offset + n));
      offset += n;
      const pending = target.commit(n);
      this.#onBytes?.(n);
      if (pending) await pending;
    }
  }

  #resumeDirect(): void {
    this.#waiting = false;
    if (this.#failure) return;
    if (this.#framing!.done) this.#finish();
    else this.#socket.resume();
  }

  #pause(): void {
    this.#socket.pause();
  }

  #finish(): void {
    if (this.#mode === 'direct') {
      this.#mode = 'paused';
      this.#settleDirect?.resolve();
    } else if (this.#mode === 'stream') {
      this.push(null);
    }
    this.#socket.destroy();
  }

  #onEnd(): void {
    if (this.#framing?.done || this.#failure) return;
    if (!this.#framing) this.#fail(new Error('the connection closed before the response headers'));
    else if (this.#framing.endsAtClose()) {
      if (!this.#waiting) this.#finish();
    } else this.#fail(new Error(this.#framing.describe(this.#received)));
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#socket.destroy();
    if (this.#mode === 'headers') this.#rejectHeaders(error);
    else if (this.#mode === 'direct') this.#settleDirect?.reject(error);
    else if (this.#mode === 'stream') this.destroy(error);
    // 'paused': whoever reads the body next gets the error.
  }
}

function requestText(url: URL, headers: OutgoingHttpHeaders): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [String(value)]) {
      if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(item)) throw new Error(`invalid character in the ${name} header`);
      lines.push(`${name}: ${item}`);
    }
  }
  lines.push('Connection: close', '', '');
  return lines.join('\r\n');
}

function parseHead(text: string): { status: number; headers: IncomingHttpHeaders } {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP/1.x response: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed response header ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), headers };
}
