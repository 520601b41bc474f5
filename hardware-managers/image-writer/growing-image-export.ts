/**
 * A byte range of a device exported read-only over NBD on a unix socket, for `qemu-img` to
 * read an image while it is still being downloaded into that range: a read waits until the
 * download has written every byte it asks for. A qcow2 parked at the end of the disk is
 * converted as it arrives instead of after the last byte (`qemu-img` reads a qcow2 made
 * sequentially, as images are, from its start towards its end), and still only from the
 * bytes that were hashed: they are read back from the device, not fetched again, or taken
 * from the download's last bytes kept in memory (recent-bytes.ts) when the reader trails it
 * closely, which it then keeps doing: a download further ahead waits for the reader.
 *
 * The protocol (NBD's proto.md): fixed newstyle handshake; NBD_OPT_GO / INFO /
 * EXPORT_NAME answered, every other option refused as unsupported (so only simple
 * replies); NBD_CMD_READ served, writes and trims refused with EPERM, NBD_CMD_DISC closes.
 */
import { constants } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECT_IO_ALIGNMENT, directIoBuffer } from '../../src/hardware/index.js';
import { RecentBytes } from './recent-bytes.js';
import { SocketReader } from './socket-reader.js';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const OPT_EXPORT_NAME = 1;
const OPT_ABORT = 2;
const OPT_INFO = 6;
const OPT_GO = 7;
const REP_ACK = 1;
const REP_INFO = 3;
const REP_ERR_UNSUP = 0x80000001;
const INFO_EXPORT = 0;
/** NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY */
const TRANSMISSION_FLAGS = 1 | 2;
const CMD_READ = 0;
const CMD_WRITE = 1;
const CMD_DISC = 2;
const CMD_FLUSH = 3;
const EPERM = 1;
const EIO = 5;
const EINVAL = 22;
const MAX_OPTION_BYTES = 64 * 1024;
/** A write is refused, but its payload must be read off the connection first. */
const MAX_WRITE_BYTES = 32 * 1024 * 1024;
/** Reads are sent in pieces of this size through one buffer per connection. */
const PIECE_BYTES = 1024 * 1024;
/** O_DIRECT needs offsets and lengths aligned to the logical block size; 4 KiB covers 512e and 4Kn. */
const ALIGNMENT = DIRECT_IO_ALIGNMENT;
/**
 * The download is held back only while reads keep coming: a reader that asked for nothing
 * new for this long (between two qemu-img runs, or done) no longer holds it.
 */
const READER_IDLE_MS = 250;

let exports = 0;

export class GrowingImageExport {
  readonly socketPath: string;
  readonly #device: string;
  readonly #base: number;
  readonly #size: number;
  readonly #server: Server;
  readonly #connections = new Set<Socket>();
  readonly #waiters: { end: number; resolve(): void; reject(error: Error): void }[] = [];
  readonly #recent: RecentBytes | undefined;
  /**
   * Where the furthest read asked for starts, and when that last moved: the bytes from there
   * on are what the reader has ahead of it.
   */
  #frontier = 0;
  #frontierMovedAt = -Infinity;
  #wakeReceiver: (() => void) | undefined;
  #available = 0;
  #failure: Error | undefined;

  private constructor(device: string, base: number, size: number, socketPath: string, recentBytes: number) {
    this.#recent = recentBytes > 0 ? new RecentBytes(recentBytes) : undefined;
    this.#device = device;
    this.#base = base;
    this.#size = size;
    this.socketPath = socketPath;
    this.#server = createServer((socket) => {
      this.#connections.add(socket);
      socket.once('close', () => this.#connections.delete(socket));
      socket.on('error', () => socket.destroy());
      void this.#serve(socket).catch(() => socket.destroy());
    });
  }

  /**
   * Exports `size` bytes of `device` from `base`; nothing is readable until `available()` says
   * so. With `recentBytes`, the last that many bytes handed to `receive()` answer reads
   * from memory.
   */
  static async start(device: string, base: number, size: number, { recentBytes = 0 } = {}): Promise<GrowingImageExport> {
    const socketPath = join(tmpdir(), `ramdisk-agent-image-${process.pid}-${++exports}.nbd`);
    await rm(socketPath, { force: true });
    const exported = new GrowingImageExport(device, base, size, socketPath, recentBytes);
    await new Promise<void>((resolve, reject) => {
      exported.#server.once('error', reject);
      exported.#server.listen(socketPath, resolve);
    });
    return exported;
  }

  /** A qemu block spec that reads the export as `format`. */
  spec(format: string): string {
    return `json:${JSON.stringify({ driver: format, file: { driver: 'nbd', server: { type: 'unix', path: this.socketPath } } })}`;
  }

  /**
   * The next bytes being written into the range, in order from its start, exactly as they
   * are written (kept in memory if the export keeps recent bytes; readable once `available()`
   * covers them). A promise while keeping them would push out bytes a reader still has
   * ahead of it: the download waits for the reader then, so that the reader keeps reading
   * from memory. The wait ends once the reader catches up, pauses or fails.
   */
  receive(chunk: Uint8Array): void | Promise<void> {
    const recent = this.#recent;
    if (!recent) return;
    if (!this.#mustWait(recent, chunk.length)) return void recent.append(chunk);
    return this.#waitForReader(recent, chunk.length).then(() => recent.append(chunk));
  }

  #mustWait(recent: RecentBytes, bytes: number): boolean {
    return (
      this.#failure === undefined &&
      // A reader waiting for bytes still to come must get them: holding the download then
      // would wait on the reader in turn.
      this.#waiters.length === 0 &&
      bytes <= recent.capacity / 4 &&
      recent.end + bytes - this.#frontier > recent.capacity &&
      performance.now() - this.#frontierMovedAt < READER_IDLE_MS
    );
  }

  async #waitForReader(recent: RecentBytes, bytes: number): Promise<void> {
    while (this.#mustWait(recent, bytes)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, READER_IDLE_MS - (performance.now() - this.#frontierMovedAt)));
        this.#wakeReceiver = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeReceiver = undefined;
    }
  }

  #readerAsked(start: number): void {
    if (start <= this.#frontier) return;
    this.#frontier = start;
    this.#frontierMovedAt = performance.now();
    this.#wakeReceiver?.();
  }

  /** The first `bytes` of the range are on the device. */
  available(bytes: number): void {
    this.#available = Math.max(this.#available, bytes);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.end > this.#available) continue;
      this.#waiters.splice(i, 1);
      waiter.resolve();
    }
  }

  /** Every read from now on fails (the download failed or started over). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#recent?.reset();
    this.#wakeReceiver?.();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  async close(): Promise<void> {
    this.fail(new Error('the export is closed'));
    for (const socket of this.#connections) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  #until(end: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (end <= this.#available) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => this.#waiters.push({ end, resolve, reject }));
    this.#wakeReceiver?.();
    return waiting;
  }

  async #serve(socket: Socket): Promise<void> {
    const input = new SocketReader(socket);
    const greeting = Buffer.alloc(18);
    greeting.writeBigUInt64BE(NBDMAGIC, 0);
    greeting.writeBigUInt64BE(IHAVEOPT, 8);
    greeting.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
    socket.write(greeting);
    const noZeroes = ((await input.read(4)).readUInt32BE(0) & FLAG_NO_ZEROES) !== 0;
    if (!(await this.#negotiate(socket, input, noZeroes))) return void socket.end();
    const reader = await RangeReader.open(this.#device);
    try {
      await this.#transmit(socket, input, reader);
    } finally {
      await reader.close();
    }
  }

  /** Options until the client starts transmission (true) or aborts (false). */
  async #negotiate(socket: Socket, input: SocketReader, noZeroes: boolean): Promise<boolean> {
    for (;;) {
      const head = await input.read(16);
      if (head.readBigUInt64BE(0) !== IHAVEOPT) throw new Error('NBD client sent no option magic');
      const option = head.readUInt32BE(8);
      const length = head.readUInt32BE(12);
      if (length > MAX_OPTION_BYTES) throw new Error('NBD option too long');
      await input.read(length);
      if (option === OPT_EXPORT_NAME) {
        const answer = Buffer.alloc(noZeroes ? 10 : 134);
        answer.writeBigUInt64BE(BigInt(this.#size), 0);
        answer.writeUInt16BE(TRANSMISSION_FLAGS, 8);
        socket.write(answer);
        return true;
      }
      if (option === OPT_GO || option === OPT_INFO) {
        const info = Buffer.alloc(12);
        info.writeUInt16BE(INFO_EXPORT, 0);
        info.writeBigUInt64BE(BigInt(this.#size), 2);
        info.writeUInt16BE(TRANSMISSION_FLAGS, 10);
        socket.write(optionReply(option, REP_INFO, info));
        socket.write(optionReply(option, REP_ACK));
        if (option === OPT_GO) return true;
      } else if (option === OPT_ABORT) {
        socket.write(optionReply(option, REP_ACK));
        return false;
      } else {
        socket.write(optionReply(option, REP_ERR_UNSUP));
      }
    }
  }

  async #transmit(socket: Socket, input: SocketReader, reader: RangeReader): Promise<void> {
    for (;;) {
      const request = await input.read(28);
      if (request.readUInt32BE(0) !== REQUEST_MAGIC) throw new Error('NBD client sent no request magic');
      const type = request.readUInt16BE(6);
      const cookie = request.subarray(8, 16);
      const offset = Number(request.readBigUInt64BE(16));
      const length = request.readUInt32BE(24);
      if (type === CMD_DISC) return void socket.end();
      if (type === CMD_WRITE) {
        if (length > MAX_WRITE_BYTES) throw new Error('NBD write request too long');
        await input.read(length);
        await send(socket, simpleReply(EPERM, cookie));
      } else if (type === CMD_FLUSH) {
        await send(socket, simpleReply(0, cookie));
      } else if (type !== CMD_READ) {
        await send(socket, simpleReply(EPERM, cookie));
      } else if (offset + length > this.#size) {
        await send(socket, simpleReply(EINVAL, cookie));
      } else {
        this.#readerAsked(offset);
        try {
          await this.#until(offset + length);
        } catch {
          await send(socket, simpleReply(EIO, cookie));
          continue;
        }
        await send(socket, simpleReply(0, cookie));
        for (let done = 0; done < length;) {
          const n = Math.min(PIECE_BYTES, length - done);
          // Copied out of the ring: the download may overwrite it while the socket sends.
          const piece = reader.scratch(n);
          await send(
            socket,
            this.#recent?.copyTo(piece, offset + done) ? piece : await reader.read(this.#base + offset + done, n),
          );
          done += n;
        }
      }
    }
  }
}

function optionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(20);
  head.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  head.writeUInt32BE(option, 8);
  head.writeUInt32BE(type, 12);
  head.writeUInt32BE(data.length, 16);
  return Buffer.concat([head, data]);
}

function simpleReply(error: number, cookie: Buffer): Buffer {
  const reply = Buffer.alloc(16);
  reply.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  reply.writeUInt32BE(error, 4);
  cookie.copy(reply, 8);
  return reply;
}

/** Resolves once the socket took `bytes` (the buffer may be reused then). */
function send(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve())));
}

/**
 * Reads of the device for the export, at most PIECE_BYTES at a time into one buffer (valid
 * until the next read). On a block device with O_DIRECT, as the parked copy was written:
 * read through the page cache, 4 GiB cost a second of CPU more and evicted everything else.
 */
class RangeReader {
  readonly #handle: FileHandle;
  readonly #buffer: Buffer;
  readonly #direct: boolean;

  private constructor(handle: FileHandle, buffer: Buffer, direct: boolean) {
    this.#handle = handle;
    this.#buffer = buffer;
    this.#direct = direct;
  }

  static async open(path: string): Promise<RangeReader> {
    if ((await stat(path)).isBlockDevice()) {
      const handle = await open(path, constants.O_RDONLY | constants.O_DIRECT);
      // Room for a piece widened to whole blocks at both ends.
      const buffer = await directIoBuffer(handle, PIECE_BYTES + 2 * ALIGNMENT).catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (buffer) return new RangeReader(handle, buffer, true);
      await handle.close();
    }
    return new RangeReader(await open(path, 'r'), Buffer.allocUnsafe(PIECE_BYTES), false);
  }

  /** The buffer's first `length` (<= PIECE_BYTES) bytes, to fill from elsewhere; valid until the next read. */
  scratch(length: number): Buffer {
    return this.#buffer.subarray(0, length);
  }

  /** `length` (<= PIECE_BYTES) bytes from `position`. */
  async read(position: number, length: number): Promise<Buffer> {
    const start = this.#direct ? position - (position % ALIGNMENT) : position;
    const end = this.#direct ? Math.ceil((position + length) / ALIGNMENT) * ALIGNMENT : position + length;
    let got = 0;
    while (start + got < position + length) {
      const { bytesRead } = await this.#handle.read(this.#buffer, got, end - start - got, start + got);
      // The reply header is out: a short device cannot be reported any more, only cut off.
      if (bytesRead === 0) throw new Error('the device ended inside the exported range');
      got += bytesRead;
    }
    return this.#buffer.subarray(position - start, position - start + length);
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}
