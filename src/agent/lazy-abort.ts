/**
 * An AbortController made when a command first asks for its signal: most commands
 * (`get_clean_steps`, `get_hardware_info`) never do, and making one (an EventTarget, its
 * signal) was ~1.4 KB of garbage per command. Aborting before it exists is remembered, so a
 * signal asked for later starts aborted.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
