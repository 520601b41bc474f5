/**
 * What every phase of the demo shares: its output (silenced once the reader goes away), the
 * clock, Ctrl-C and the deadline, and the list of things to remove at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEADLINE_MS = 120_000;

class Cleanup {
  readonly #actions: Array<{ what: string; run: () => Promise<void> | void }> = [];
  add(what: string, run: () => Promise<void> | void): void {
    this.#actions.push({ what, run });
  }
  async runAll(say: (line: string) => void): Promise<void> {
    for (const { what, run } of this.#actions.splice(0).reverse()) {
      try {
        await run();
        say(`      removed ${what}`);
      } catch (error) {
        say(`      could not remove ${what}: ${(error as Error).message}`);
      }
    }
  }
}

export class DemoSession {
  readonly dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-demo-'));
  readonly cleanup = new Cleanup();
  readonly #started = Date.now();
  #interrupted = false;
  #outputClosed = false;
  readonly #onSignal = () => {
    this.#interrupted = true;
  };
  // A reader that goes away (`make demo | head`) must stop the demo the way Ctrl-C does,
  // cleanup included, instead of crashing on EPIPE and leaving loop devices attached.
  readonly #onOutputError = () => {
    this.#outputClosed = true;
    this.#interrupted = true;
  };

  constructor(readonly out: NodeJS.WriteStream) {
    this.cleanup.add(`the scratch folder ${this.dir}`, () => rmSync(this.dir, { recursive: true, force: true }));
    out.on('error', this.#onOutputError);
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  get interrupted(): boolean {
    return this.#interrupted;
  }

  readonly say = (line = ''): void => {
    if (!this.#outputClosed) this.out.write(`${line}\n`);
  };

  elapsed(): string {
    return `${((Date.now() - this.#started) / 1000).toFixed(1)} s`;
  }

  checkInterrupted(): void {
    if (this.#interrupted) throw new Error('interrupted (Ctrl-C)');
    if (Date.now() - this.#started > DEADLINE_MS) throw new Error(`the demo took longer than ${DEADLINE_MS / 1000} s`);
  }

  async sleep(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    this.checkInterrupted();
  }

  /** Removes everything the phases made, then stops listening for signals. */
  async close(): Promise<void> {
    this.say();
    this.say('Cleaning up:');
    await this.cleanup.runAll(this.say);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    this.out.off('error', this.#onOutputError);
  }
}
