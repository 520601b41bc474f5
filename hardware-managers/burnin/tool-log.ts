/**
 * What a burn-in tool printed, in the agent's log. IPA logs stress-ng's stderr and fio's
 * stdout at INFO once the tool ends, and Ironic's own documentation points operators there
 * ("the output of the burn-in tools goes to the journal of the Ironic Python Agent and is
 * therefore sent back as an archive to the conductor"): Ironic keeps no clean or service
 * step result, so without these lines the figures of a 24-hour run are lost with the
 * command list. Lines are logged as they come (a run that is aborted or killed still leaves
 * what it printed), up to a bound: a failing memory module or disk can make a tool print a
 * line per error for hours, and the log bundle keeps only the newest 4 MiB.
 */
import type { Logger } from '../../src/hardware/index.js';

const MAX_LINES = 500;

export class ToolOutputLog {
  readonly #log: Logger;
  readonly #tool: string;
  /** Set when lines wait for close() (a run that may turn out to be a retry: see drop()). */
  readonly #held: string[] | undefined;
  #lines = 0;

  constructor(log: Logger, tool: string, options: { hold?: boolean } = {}) {
    this.#log = log;
    this.#tool = tool;
    this.#held = options.hold ? [] : undefined;
  }

  line(text: string): void {
    this.#lines++;
    if (this.#lines > MAX_LINES) return;
    if (this.#held) this.#held.push(text);
    else this.#log.info({ tool: this.#tool }, text);
  }

  /** Logs held lines, and says how many lines were left out, if any. */
  close(): void {
    for (const text of this.#held?.splice(0) ?? []) this.#log.info({ tool: this.#tool }, text);
    if (this.#lines > MAX_LINES)
      this.#log.info({ tool: this.#tool, lines: this.#lines }, `${this.#lines - MAX_LINES} more output lines not logged`);
  }

  /** Forgets held lines: a connection refused while the partner is not listening yet is retried, not news. */
  drop(): void {
    this.#held?.splice(0);
    this.#lines = 0;
  }
}
