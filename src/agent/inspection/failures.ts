/**
 * IPA's `utils.AccumulatedFailures`: inspection runs on (mostly) unknown nodes, so errors are
 * collected, sent with the data as its `error` field, and only raised afterwards.
 */
export class AccumulatedFailures {
  readonly #failures: string[] = [];

  add(failure: string | Error): void {
    this.#failures.push(typeof failure === 'string' ? failure : failure.message);
  }

  get count(): number {
    return this.#failures.length;
  }

  /** `null` without failures (the wire value), else IPA's bulleted text. */
  error(): string | null {
    if (this.#failures.length === 0) return null;
    return `The following errors were encountered:\n${this.#failures.map((f) => `* ${f}`).join('\n')}`;
  }
}

export class InspectionError extends Error {
  override readonly name = 'InspectionError';
}
