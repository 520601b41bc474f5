/**
 * oslo.utils' `specs_matcher`, which IPA uses to compare root device hints with devices:
 * a tiny expression language (`s== value`, `>= 100`, `<in> sub`, `<or> a <or> b`,
 * `<all-in> a b`, `<range-in> [ 1 10 )`). Parsing follows pyparsing's behaviour in oslo's
 * grammar: only a prefix of the expression has to parse, whitespace separates atoms.
 */

/** Tried in this order, like the Literal alternation in oslo's grammar. */
const UNARY_OPS = ['==', '=', '!=', '<in>', '>=', '<=', '>', '<', 's==', 's!=', 's<=', 's<', 's>=', 's>'] as const;
const ALL_IN = '<all-in>';
const OR = '<or>';
const RANGE_IN = '<range-in>';

export type SpecTree = readonly string[];

class SpecParseError extends Error {}

/** Tokens of the expression: `[op, ...values]`, or a single atom. Throws on no parse. */
export function parseSpec(spec: string): SpecTree {
  let pos = 0;
  const skipSpace = () => {
    while (pos < spec.length && /\s/.test(spec[pos]!)) pos++;
  };
  const startsOperator = (): boolean => {
    const rest = spec.slice(pos);
    return [...UNARY_OPS, ALL_IN, OR, RANGE_IN].some((op) => rest.startsWith(op));
  };
  const literal = (text: string): boolean => {
    skipSpace();
    if (spec.startsWith(text, pos)) {
      pos += text.length;
      return true;
    }
    return false;
  };
  const atom = (): string | undefined => {
    skipSpace();
    if (pos >= spec.length || startsOperator()) return undefined;
    const match = /^\S+/.exec(spec.slice(pos));
    if (!match) return undefined;
    pos += match[0].length;
    return match[0];
  };
  const attempt = <T>(parse: () => T | undefined): T | undefined => {
    const saved = pos;
    const result = parse();
    if (result === undefined) pos = saved;
    return result;
  };

  const disjunction = attempt(() => {
    const values: string[] = [];
    for (;;) {
      const next = attempt(() => (literal(OR) ? atom() : undefined));
      if (next === undefined) break;
      values.push(next);
    }
    return values.length > 0 ? [OR, ...values] : undefined;
  });
  if (disjunction) return disjunction;

  const nary = attempt(() => {
    if (!literal(ALL_IN)) return undefined;
    const values: string[] = [];
    for (let value = attempt(atom); value !== undefined; value = attempt(atom)) values.push(value);
    return values.length > 0 ? [ALL_IN, ...values] : undefined;
  });
  if (nary) return nary;

  const range = attempt(() => {
    if (!literal(RANGE_IN)) return undefined;
    const open = literal('[') ? '[' : literal('(') ? '(' : undefined;
    if (!open) return undefined;
    const low = atom();
    const high = low === undefined ? undefined : atom();
    if (high === undefined) return undefined;
    const close = literal(']') ? ']' : literal(')') ? ')' : undefined;
    return close ? [RANGE_IN, open, low!, high, close] : undefined;
  });
  if (range) return range;

  const unary = attempt(() => {
    skipSpace();
    const op = UNARY_OPS.find((candidate) => spec.startsWith(candidate, pos));
    if (!op) return undefined;
    pos += op.length;
    const value = atom();
    return value === undefined ? undefined : [op, value];
  });
  if (unary) return unary;

  const single = attempt(atom);
  if (single !== undefined) return [single];
  throw new SpecParseError(`Cannot parse expression "${spec}"`);
}

/** Whether `spec` parses at all (a hint that does not is invalid). */
export function isParsableSpec(spec: string): boolean {
  try {
    parseSpec(spec);
    return true;
  } catch {
    return false;
  }
}

function toFloat(value: string | number): number {
  const number = typeof value === 'number' ? value : Number(value.trim());
  if (typeof value === 'string' && value.trim() === '') return Number.NaN;
  return number;
}

const numeric = (compare: (a: number, b: number) => boolean) => (x: string | number, y: string) => {
  const a = toFloat(x);
  const b = toFloat(y);
  return !Number.isNaN(a) && !Number.isNaN(b) && compare(a, b);
};

const textual = (compare: (a: string, b: string) => boolean) => (x: string | number, y: string) => compare(String(x), y);

const BINARY: Record<string, (x: string | number, y: string) => boolean> = {
  // oslo keeps '=' meaning "greater or equal" for backwards compatibility.
  '=': numeric((a, b) => a >= b),
  '==': numeric((a, b) => a === b),
  '!=': numeric((a, b) => a !== b),
  '<': numeric((a, b) => a < b),
  '<=': numeric((a, b) => a <= b),
  '>': numeric((a, b) => a > b),
  '>=': numeric((a, b) => a >= b),
  's==': textual((a, b) => a === b),
  's!=': textual((a, b) => a !== b),
  's<': textual((a, b) => a < b),
  's<=': textual((a, b) => a <= b),
  's>': textual((a, b) => a > b),
  's>=': textual((a, b) => a >= b),
  '<in>': textual((a, b) => a.includes(b)),
};

/** oslo's `specs_matcher.match(value, spec)`. */
export function matchSpec(value: string | number, spec: string): boolean {
  let tree: SpecTree;
  try {
    tree = parseSpec(spec);
  } catch {
    tree = [spec];
  }
  if (tree.length === 1) return tree[0] === String(value);
  const [op, ...args] = tree as [string, ...string[]];
  if (op === OR) return args.some((candidate) => String(value) === candidate);
  if (op === ALL_IN) return args.every((item) => String(value).includes(item));
  if (op === RANGE_IN) {
    const [open, low, high, close] = args as [string, string, string, string];
    const x = toFloat(value);
    const min = toFloat(low);
    const max = toFloat(high);
    if ([x, min, max].some(Number.isNaN) || min > max) return false;
    if (open === '[' ? x < min : x <= min) return false;
    if (close === ']' ? x > max : x >= max) return false;
    return true;
  }
  const compare = BINARY[op];
  return compare !== undefined && args[0] !== undefined && compare(value, args[0]);
}
