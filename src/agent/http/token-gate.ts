/**
 * The agent token check on `/commands` (reference §2.6, §17.1). The token arrives only in
 * the `agent_token` query parameter. Compared in constant time: the token is the only thing
 * standing between the provisioning network and "erase every disk".
 *
 * Running a command always needs the token. Reading results (`GET /v1/commands/[id]`)
 * follows IPA's late-binding rule instead: conductors before 29.0.0 (2025.1) never send the
 * token on those GETs (ironic-conductor §6.3), so a strict check makes a 2023.1 conductor
 * fail every cleaning with "Node failed to check cleaning progress: 'commands'". Reads are
 * therefore open until the first read that carries the right token; from then on the conductor is
 * known to send it and every read must carry the right one.
 */
import { nodeCrypto } from '../../shared/lazy-crypto.js';

function digest(value: string): Buffer {
  return nodeCrypto().createHash('sha256').update(value).digest();
}

export class TokenGate {
  #expected: Buffer | undefined;
  readonly #required: boolean;
  #readsNeedToken = false;

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

  /** True once a read carried a token: reads without one are refused from then on. */
  get readsNeedToken(): boolean {
    return this.#readsNeedToken;
  }

  /** For reads of command results: IPA's `require_agent_token_for_command` (see above). */
  acceptsRead(supplied: unknown): boolean {
    if (typeof supplied === 'string' && supplied.length > 0) {
      const valid = this.accepts(supplied);
      // Only the right token switches reads to "token required": a stranger sending a
      // wrong one must not lock a 2023.1 conductor out of its own results.
      if (valid) this.#readsNeedToken = true;
      return valid;
    }
    return !this.#readsNeedToken || !this.#required;
  }

  /** Valid iff a token is held, one was supplied, and they are equal. */
  accepts(supplied: unknown): boolean {
    if (!this.#required) return true;
    if (!this.#expected || typeof supplied !== 'string' || supplied.length === 0) return false;
    return nodeCrypto().timingSafeEqual(digest(supplied), this.#expected);
  }
}
