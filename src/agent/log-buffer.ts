/**
 * The agent's own recent log, kept in memory for `log.collect_system_logs`: a ramdisk may
 * have no journald and no writable log file, and the operator debugging a failed clean
 * needs exactly these lines. Every log line also goes on to stdout as before.
 */
import { Writable } from 'node:stream';

const DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024;

export class LogBuffer {
  readonly #limit: number;
  #chunks: string[] = [];
  #bytes = 0;

  constructor(limitBytes = DEFAULT_LIMIT_BYTES) {
    this.#limit = limitBytes;
  }

  append(text: string): void {
    this.#chunks.push(text);
    this.#bytes += Buffer.byteLength(text);
    // Drop the oldest lines beyond the limit.
    while (this.#bytes > this.#limit && this.#chunks.length > 1) {
      this.#bytes -= Buffer.byteLength(this.#chunks.shift()!);
    }
  }

  text(): string {
    return this.#chunks.join('');
  }

  /** A stream for pino that keeps each line here and passes it on to `next` (stdout). */
  tee(next: NodeJS.WritableStream | undefined): Writable {
    return new Writable({
      write: (chunk: Buffer | string, _encoding, callback) => {
        const text = chunk.toString();
        this.append(text);
        if (next) next.write(text, () => callback());
        else callback();
      },
    });
  }
}
