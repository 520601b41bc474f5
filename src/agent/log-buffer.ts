/**
 * The agent's own recent log, kept in memory for `log.collect_system_logs`: a ramdisk may
 * have no journald and no writable log file, and the operator debugging a failed clean
 * needs exactly these lines. Every log line also goes on to stdout, within a bound on what
 * may wait there (bounded-output.ts).
 */
import { boundedOutput } from './bounded-output.js';

const DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024;
/**
 * Lines are copied into fixed blocks outside the V8 heap and the oldest block is dropped as
 * a whole: one log line per request kept as a heap string was promoted, then dropped, growing
 * old space between mark-compacts (the API's p99), and dropping line by line cost an array
 * shift over ~20,000 lines per request once the buffer was full.
 */
const BLOCK_BYTES = 64 * 1024;

export class LogBuffer {
  readonly #limit: number;
  /** Oldest first; `used` bytes of each block hold whole lines. */
  readonly #blocks: { data: Buffer; used: number }[] = [];
  #bytes = 0;

  constructor(limitBytes = DEFAULT_LIMIT_BYTES) {
    this.#limit = Math.max(limitBytes, BLOCK_BYTES);
  }

  append(text: string): void {
    const length = Buffer.byteLength(text);
    let block = this.#blocks.at(-1);
    if (!block || length > block.data.length - block.used) {
      // A line longer than a block gets a block of its own size; a full block's tail stays unused.
      block = { data: Buffer.allocUnsafeSlow(Math.max(BLOCK_BYTES, length)), used: 0 };
      this.#blocks.push(block);
      this.#bytes += block.data.length;
    }
    block.used += block.data.write(text, block.used);
    // Drop the oldest lines, a block at a time, beyond the limit.
    while (this.#bytes > this.#limit && this.#blocks.length > 1) this.#bytes -= this.#blocks.shift()!.data.length;
  }

  text(): string {
    return this.#blocks.map((block) => block.data.toString('utf8', 0, block.used)).join('');
  }

  /**
   * A destination for pino that keeps each line here and passes it on to `next` (stdout),
   * bounded (bounded-output.ts). A plain `write` (all pino calls) rather than a
   * stream.Writable: no per-line stream machinery.
   */
  tee(next: NodeJS.WritableStream | undefined): { write(line: string): void } {
    const out = next ? boundedOutput(next) : undefined;
    return {
      write: (line: string) => {
        this.append(line);
        out?.write(line);
      },
    };
  }
}
