/**
 * A cheap limit on wrong tokens. Each one used to cost a 401 and a log line with no bound
 * (3,615 tries/s filled the log). Per client address and second: past
 * `FAILURES_PER_SECOND` wrong tokens the answer becomes 429 with `Connection: close`, so
 * every further guess costs a new TCP connection; and at most `LOG_LINES_PER_SECOND`
 * request lines of refused requests are logged per second, the rest counted in one line.
 * A client with the right token is never limited: it is checked first.
 */
import { HttpFault, Faults } from './fault.js';

const FAILURES_PER_SECOND = 20;
const LOG_LINES_PER_SECOND = 10;
/** Addresses tracked per second; beyond it (a spoofed flood) new ones are limited at once. */
const MAX_TRACKED_ADDRESSES = 4096;

export class AuthFailureLimiter {
  readonly #failures = new Map<string, number>();
  #window = 0;
  #logged = 0;
  #suppressed = 0;

  constructor(private readonly now: () => number = Date.now) {}

  #roll(): number {
    const window = Math.floor(this.now() / 1000);
    let suppressed = 0;
    if (window !== this.#window) {
      this.#window = window;
      this.#failures.clear();
      suppressed = this.#suppressed;
      this.#logged = 0;
      this.#suppressed = 0;
    }
    return suppressed;
  }

  /** The fault for a wrong token from `address`: 401, or 429 past the limit. */
  refuse(address: string): HttpFault {
    this.#roll();
    const known = this.#failures.get(address);
    if (known === undefined && this.#failures.size >= MAX_TRACKED_ADDRESSES) return Faults.tooManyTokenFailures();
    const count = (known ?? 0) + 1;
    this.#failures.set(address, count);
    return count > FAILURES_PER_SECOND ? Faults.tooManyTokenFailures() : Faults.tokenInvalid();
  }

  /**
   * Whether the request line of a refused request (401/429) may be logged now; `suppressed`
   * is the number of lines left out in the previous second(s), to be logged once.
   */
  mayLog(): { log: boolean; suppressed: number } {
    const suppressed = this.#roll();
    if (this.#logged < LOG_LINES_PER_SECOND) {
      this.#logged++;
      return { log: true, suppressed };
    }
    this.#suppressed++;
    return { log: false, suppressed };
  }
}
