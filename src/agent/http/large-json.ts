/**
 * JSON.parse for a large command body without holding its big strings three times over.
 *
 * A `write_image` deploy step with an inline config drive is mostly one base64 string, and
 * Ironic sends it three times in the same body (the step's `configdrive`, its
 * `image_info.configdrive` and the node's `instance_info.configdrive`). Parsed plainly, the
 * body is held as bytes, as text and as parsed values at once: a 150 MiB body took the agent
 * from 56 to 653 MiB at the peak. Here each string literal of at least 1 MiB without escapes
 * is decoded once straight from the bytes (identical ones share one JS string), the rest of
 * the document is parsed with a placeholder in its place, and the strings are put back: the
 * bytes plus one copy of each distinct big string, and the three config drives held by the
 * running command are one. IPA (Flask) holds the body, its text and the parsed values.
 *
 * Whatever this does not recognise (escapes, a big key, malformed JSON) is left in the text for
 * JSON.parse, and a body it refuses is parsed again plainly: results and errors are
 * JSON.parse's own.
 */
import { nodeCrypto } from '../../shared/lazy-crypto.js';

/** Bodies and strings below this are parsed plainly: every real request but a deploy. */
const BIG_STRING_BYTES = 1024 * 1024;
/** Scanning stops after this many string literals; the rest is left to JSON.parse. */
const MAX_SCANNED_STRINGS = 100_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const CONTROL_CHARACTER = /[\u0000-\u001f]/;

/** The body's JSON value; throws JSON.parse's SyntaxError for malformed JSON. */
export function parseJsonBytes(bytes: Buffer): unknown {
  if (bytes.length < BIG_STRING_BYTES) return JSON.parse(bytes.toString('utf8'));
  const big = findBigStrings(bytes);
  if (big.length === 0) return JSON.parse(bytes.toString('utf8'));
  try {
    return parseAround(bytes, big);
  } catch {
    // Malformed, or a control character in a big string: parsed plainly, the error names the
    // body's own positions (only a body that fails pays for the copies).
    return JSON.parse(bytes.toString('utf8'));
  }
}

function parseAround(bytes: Buffer, big: readonly Literal[]): unknown {
  const marker = `\u0000ramdisk-agent-big-string:${nodeCrypto().randomUUID()}:`;
  const values: string[] = [];
  const pieces: string[] = [];
  let from = 0;
  for (const { start, end } of big) {
    pieces.push(bytes.toString('utf8', from, start), JSON.stringify(`${marker}${values.length}`));
    values.push(decodeOnce(bytes, start, end, big, values));
    from = end;
  }
  pieces.push(bytes.toString('utf8', from));
  const byMarker = new Map(values.map((value, index) => [`${marker}${index}`, value]));
  return JSON.parse(pieces.join(''), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(marker) ? (byMarker.get(value) ?? value) : value,
  );
}

interface Literal {
  /** Byte offset of the opening quote. */
  start: number;
  /** Byte offset just past the closing quote. */
  end: number;
}

/**
 * The big string values' literals, in order. Outside a string a JSON text has a quote only
 * where a string starts, so the scan hops from quote to quote with native searches.
 */
function findBigStrings(bytes: Buffer): Literal[] {
  const found: Literal[] = [];
  let at = bytes.indexOf(QUOTE);
  for (let scanned = 0; at !== -1 && scanned < MAX_SCANNED_STRINGS; scanned++) {
    const close = closingQuote(bytes, at + 1);
    if (close === -1) break; // unterminated: JSON.parse says so
    const literal = { start: at, end: close + 1 };
    if (close - at - 1 >= BIG_STRING_BYTES && isPlainValue(bytes, literal)) found.push(literal);
    at = bytes.indexOf(QUOTE, close + 1);
  }
  return found;
}

/** The quote that ends a string whose text starts at `from` (a quote after an odd run of backslashes is escaped). */
function closingQuote(bytes: Buffer, from: number): number {
  let at = bytes.indexOf(QUOTE, from);
  while (at !== -1) {
    let backslashes = 0;
    while (bytes[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = bytes.indexOf(QUOTE, at + 1);
  }
  return -1;
}

/** A value (not a key), with no escapes to decode. */
function isPlainValue(bytes: Buffer, { start, end }: Literal): boolean {
  if (bytes.subarray(start + 1, end - 1).includes(BACKSLASH)) return false;
  let next = end;
  while (next < bytes.length && (bytes[next] === 0x20 || bytes[next] === 0x0a || bytes[next] === 0x0d || bytes[next] === 0x09))
    next++;
  return bytes[next] !== COLON;
}

/**
 * The literal's text, shared with an identical earlier one (compared as bytes first, so a
 * duplicate is never decoded). A raw control character, which JSON forbids, sends the body
 * to the plain parse for JSON.parse's error.
 */
function decodeOnce(bytes: Buffer, start: number, end: number, literals: readonly Literal[], decoded: readonly string[]): string {
  const body = bytes.subarray(start + 1, end - 1);
  for (let index = 0; index < decoded.length; index++) {
    const earlier = literals[index]!;
    if (earlier.end - earlier.start === end - start && bytes.subarray(earlier.start + 1, earlier.end - 1).equals(body)) {
      return decoded[index]!;
    }
  }
  const text = body.toString('utf8');
  if (CONTROL_CHARACTER.test(text)) throw new SyntaxError('a control character in a string');
  return text;
}
