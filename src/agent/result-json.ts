/**
 * A command result as redacted JSON, in segments: text, and the bytes of deep-frozen values
 * shared by every result that carries them. `get_clean_steps` answers with the hardware
 * managers' step listing, which the registry builds once and deep-freezes until the managers
 * change: redacting and serialising its ~7 KB on every call allocated ~60 KB a request, and
 * the scavenges that paid for it were the command's p99. A frozen value cannot change, so it
 * is redacted and serialised once, and the kept results share its bytes instead of holding a
 * copy each.
 */
import { NAME_KEYED_KEYS, redactValue } from './redact.js';

export type JsonSegment = string | Buffer;

/** Deep-frozen value → its redacted JSON; null: not deep-frozen plain data, serialise each time. */
const sharedJson = new WeakMap<object, Buffer | null>();
/** The same for name-keyed maps (redact.ts), which are redacted by their key, not as any value. */
const sharedNameKeyedJson = new WeakMap<object, Buffer | null>();

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Frozen plain objects and arrays all the way down, data properties only, no `toJSON`: its
 * JSON can never change. Checked once per object (cached by the caller).
 */
function isDeepFrozenData(value: object, seen: Set<object>): boolean {
  if (seen.has(value)) return false; // a cycle: JSON.stringify must throw as it always did
  seen.add(value);
  if (!Object.isFrozen(value) || !(Array.isArray(value) || isPlainObject(value))) return false;
  for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
    if (!('value' in descriptor) || key === 'toJSON') return false;
    const item: unknown = descriptor.value;
    if (typeof item === 'object' && item !== null && !isDeepFrozenData(item, seen)) return false;
  }
  return true;
}

/** The shared JSON bytes of a deep-frozen object or array under `key`, or undefined for anything else. */
function sharedJsonOf(key: string, value: unknown): Buffer | undefined {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return undefined;
  const nameKeyed = NAME_KEYED_KEYS.has(key);
  const cache = nameKeyed ? sharedNameKeyedJson : sharedJson;
  let json = cache.get(value);
  if (json === undefined) {
    // As redactValue reaches it under a result's key (depth 1).
    const redacted = nameKeyed ? (redactValue({ [key]: value }) as Record<string, unknown>)[key] : redactValue(value, 1);
    json = isDeepFrozenData(value, new Set()) ? Buffer.from(JSON.stringify(redacted)) : null;
    cache.set(value, json);
  }
  return json ?? undefined;
}

/**
 * Exactly `JSON.stringify(redactValue(value) ?? null) ?? 'null'`, with the entries of a plain
 * object result that hold deep-frozen values taken from the shared cache. Throws what
 * JSON.stringify throws (a BigInt, a cycle).
 */
export function resultJsonSegments(value: unknown): JsonSegment[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value) || 'toJSON' in value) {
    return [JSON.stringify(redactValue(value) ?? null) ?? 'null'];
  }
  const segments: JsonSegment[] = [];
  let text = '{';
  let first = true;
  for (const [key, item] of Object.entries(value)) {
    const shared = sharedJsonOf(key, item);
    if (shared) {
      // Keys change how strings are redacted, and name-keyed maps (cached by key above).
      segments.push(`${text}${first ? '' : ','}${JSON.stringify(key)}:`, shared);
      text = '';
    } else {
      // The entry alone, redacted under its own key; `{}` when JSON leaves it out.
      const entry = JSON.stringify(redactValue({ [key]: item }));
      if (entry === '{}') continue;
      text += `${first ? '' : ','}${entry.slice(1, -1)}`;
    }
    first = false;
  }
  segments.push(`${text}}`);
  return segments;
}

/** The segments as one string. */
export function joinSegments(segments: readonly JsonSegment[]): string {
  return segments.length === 1 && typeof segments[0] === 'string' ? segments[0] : segments.map(String).join('');
}
