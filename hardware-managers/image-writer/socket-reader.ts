import type { Socket } from 'node:net';

/** Exact-length reads from a socket. */
export class SocketReader {
  readonly #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#wake?.();
    });
    socket.once('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  async read(bytes: number): Promise<Buffer> {
    while (this.#length < bytes) {
      if (this.#ended) throw new Error('the NBD client closed the connection');
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    if (all.length > bytes) this.#chunks.push(all.subarray(bytes));
    this.#length -= bytes;
    return all.subarray(0, bytes);
  }
}
