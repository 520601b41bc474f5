/**
 * The agent token check on `/commands` (reference §2.6, §17.1). The token arrives only in
 * the `agent_token` query parameter. Compared in constant time: the token is the only thing
 * standing between the provisioning network and "erase every disk".
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class TokenGate {
  #expected: Buffer | undefined;
  readonly #required: boolean;

  /** `required: false` only for a standalone agent started without a token. */
  constructor(options: { token?: string | undefined; required: boolean }) {
    this.#required = options.required;
    if (options.token) this.#expected = digest(options.token);
  }

  get required(): boolean {
    return this.#required;
  }

  get hasToken(): boolean {
    return this.#expected !== undefined;
  }

  /** Install the token received at lookup (or a new one after a re-lookup). */
  setToken(token: string): void {
    this.#expected = digest(token);
  }

  /** Valid iff a token is held, one was supplied, and they are equal. */
  accepts(supplied: unknown): boolean {
    if (!this.#required) return true;
    if (!this.#expected || typeof supplied !== 'string' || supplied.length === 0) return false;
    return timingSafeEqual(digest(supplied), this.#expected);
  }
}
