/**
 * Root device hints (reference §15), with IPA's `device_hints.py` semantics: string hints
 * are lower-cased and URL-quoted on both sides, a bare value means `s==` (strings) or `==`
 * (size, in GiB), `rotational` is a strict boolean, and every hint must match. The same
 * matcher serves `properties.skip_block_devices` (§8.6).
 */
import type { BlockDevice } from './block-devices.js';
import { DeviceNotFound, pythonRepr } from './errors.js';
import { isParsableSpec, matchSpec, parseSpec } from './specs-matcher.js';
import type { IronicNode } from './step-context.js';

export const ROOT_DEVICE_HINT_TYPES = {
  size: 'int',
  model: 'str',
  wwn: 'str',
  serial: 'str',
  vendor: 'str',
  wwn_with_extension: 'str',
  wwn_vendor_extension: 'str',
  name: 'str',
  rotational: 'bool',
  hctl: 'str',
  by_path: 'str',
  tran: 'str',
} as const;

export type RootDeviceHintName = keyof typeof ROOT_DEVICE_HINT_TYPES;
export type RootDeviceHints = Partial<Record<RootDeviceHintName, unknown>>;
/** Hints after validation: strings normalised with an explicit operator, booleans as booleans. */
export type ParsedRootDeviceHints = Partial<Record<RootDeviceHintName, string | boolean>>;

/** IPA raises ValueError for a malformed hint; callers turn it into `DeviceNotFound`. */
export class InvalidRootDeviceHint extends Error {
  override name = 'ValueError';
}

const GIB = 1024 ** 3;
/** IPA's minimum size for a guessed root disk (no hints). */
export const MIN_ROOT_DISK_BYTES = 4 * GIB;

const TRUE_STRINGS = new Set(['1', 't', 'true', 'on', 'y', 'yes']);
const FALSE_STRINGS = new Set(['0', 'f', 'false', 'off', 'n', 'no']);

/** oslo `strutils.bool_from_string(value, strict=True)`; undefined when not a boolean. */
function strictBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = pythonStr(value).trim().toLowerCase();
  if (TRUE_STRINGS.has(text)) return true;
  if (FALSE_STRINGS.has(text)) return false;
  return undefined;
}

/** Python's `str()` of a JSON value, which IPA applies before parsing. */
function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'object') return pythonRepr(value);
  return String(value);
}

/** Python's `urllib.parse.quote(text)` (safe characters: letters, digits, `_.-~/`). */
function pythonQuote(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.\-~/]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function extractOperatorAndValues(expression: unknown, hintName: string): { op: string; values: string[] } {
  const text = pythonStr(expression).trim().toLowerCase();
  if (!text) throw new InvalidRootDeviceHint(`Root device hint ${hintName} expression is empty`);
  let tree;
  try {
    tree = parseSpec(text);
  } catch {
    throw new InvalidRootDeviceHint(`Root device hint "${hintName}" has an invalid expression: ${pythonStr(expression)}`);
  }
  if (tree.length <= 1) return { op: '', values: [text] };
  const op = tree[0]!;
  const values = text
    .split(new RegExp(escapeRegExp(op)))
    .filter((v) => v.length > 0)
    .map((v) => v.trim());
  return { op, values };
}

function normalizeExpression(expression: unknown, hintName: string): string {
  const { op, values } = extractOperatorAndValues(expression, hintName);
  return (op + values.map((v) => ` ${pythonQuote(v)} `).join(op)).trim();
}

/**
 * IPA's `parse_root_device_hints`: validates and normalises; `undefined` when there are no
 * hints. Throws `InvalidRootDeviceHint` with IPA's messages.
 */
export function parseRootDeviceHints(hints: Record<string, unknown> | null | undefined): ParsedRootDeviceHints | undefined {
  if (!hints || Object.keys(hints).length === 0) return undefined;
  const invalid = Object.keys(hints).filter((key) => !(key in ROOT_DEVICE_HINT_TYPES));
  if (invalid.length > 0) {
    throw new InvalidRootDeviceHint(
      `The hints "${invalid.join(', ')}" are invalid. Valid hints are: "${Object.keys(ROOT_DEVICE_HINT_TYPES).join(', ')}"`,
    );
  }
  const parsed: ParsedRootDeviceHints = {};
  for (const [name, expression] of Object.entries(hints) as [RootDeviceHintName, unknown][]) {
    const type = ROOT_DEVICE_HINT_TYPES[name];
    if (type === 'str') {
      if (typeof expression !== 'string') {
        throw new InvalidRootDeviceHint(
          `Root device hint "${name}" is not a string value. Hint expression: ${pythonStr(expression)}`,
        );
      }
      parsed[name] = withDefaultOperator(normalizeExpression(expression, name), 's==');
    } else if (type === 'int') {
      for (const value of extractOperatorAndValues(expression, name).values) {
        if (!/^[+-]?\d+$/.test(value.trim())) {
          throw new InvalidRootDeviceHint(
            `Root device hint "${name}" is not an integer value. Current value: ${pythonStr(expression)}`,
          );
        }
        if (Number(value) <= 0) {
          throw new InvalidRootDeviceHint(
            `Root device hint "${name}" should be a positive integer. Current value: ${pythonStr(expression)}`,
          );
        }
      }
      parsed[name] = withDefaultOperator(pythonStr(expression), '==');
    } else {
      const value = strictBool(expression);
      if (value === undefined) {
        throw new InvalidRootDeviceHint(
          `Root device hint "${name}" is not a Boolean value. Current value: ${pythonStr(expression)}`,
        );
      }
      parsed[name] = value;
    }
  }
  return parsed;
}

function withDefaultOperator(expression: string, op: string): string {
  return isParsableSpec(expression) && parseSpec(expression).length > 1 ? expression : `${op} ${expression}`;
}

/**
 * The values IPA compares hints with, from a discovered device (`name` is the /dev path).
 * `serial` and `wwn` are every value lsblk and udev give, as IPA's get_os_install_device
 * lists devices (`all_serial_and_wwn=True`, IPA 10.0+): a hint naming a disk by udev's long
 * ID_SERIAL (`WDC_WD140EDFZ-11A0VA0_9RK1XXXX`) or by its short serial both find it. IPA's
 * erase steps match the skip list against the single values; here the skip list sees every
 * value too, so a disk the operator named either way is kept, never erased.
 */
export function hintValuesOf(device: BlockDevice): Record<RootDeviceHintName, unknown> {
  return {
    name: device.path,
    size: device.sizeBytes,
    model: device.model,
    wwn: device.allWwns?.length ? device.allWwns : device.wwn,
    serial: device.allSerials?.length ? device.allSerials : device.serial,
    vendor: device.vendor,
    wwn_with_extension: device.wwnWithExtension,
    wwn_vendor_extension: device.wwnVendorExtension,
    rotational: device.rotational,
    hctl: device.hctl,
    by_path: device.byPath,
    tran: device.transport,
  };
}

function valueMatches(name: RootDeviceHintName, deviceValue: unknown, hint: string | boolean): boolean {
  const type = ROOT_DEVICE_HINT_TYPES[name];
  if (type === 'bool') return strictBool(deviceValue) === hint;
  if (Array.isArray(deviceValue)) return deviceValue.some((v) => valueMatches(name, v, hint));
  if (type === 'int') return matchSpec(Number(deviceValue) / GIB, String(hint));
  // A missing attribute is str(None) = "none" in IPA; an empty one skips the device.
  if (deviceValue === '') return false;
  return matchSpec(normalizeExpression(deviceValue, name), String(hint));
}

/** Whether the device satisfies every hint. Throws `InvalidRootDeviceHint` on bad hints. */
export function matchesRootDeviceHints(device: BlockDevice, hints: Record<string, unknown> | ParsedRootDeviceHints): boolean {
  const parsed = parseRootDeviceHints(hints);
  if (!parsed) return true;
  const values = hintValuesOf(device);
  return (Object.entries(parsed) as [RootDeviceHintName, string | boolean][]).every(([name, hint]) =>
    valueMatches(name, values[name], hint),
  );
}

/** All devices matching every hint, in list order. */
export function findDevicesByHints<D extends BlockDevice>(devices: readonly D[], hints: Record<string, unknown>): D[] {
  parseRootDeviceHints(hints);
  return devices.filter((device) => matchesRootDeviceHints(device, hints));
}

/** `node.instance_info.root_device`, else `node.properties.root_device` (IPA's order). */
export function rootDeviceHintsFromNode(node: IronicNode | undefined): Record<string, unknown> | undefined {
  const fromInstance = node?.instance_info?.root_device;
  const fromProperties = node?.properties?.root_device;
  const hints = isNonEmptyRecord(fromInstance) ? fromInstance : isNonEmptyRecord(fromProperties) ? fromProperties : undefined;
  return hints;
}

function isNonEmptyRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
}

export interface SelectRootDeviceOptions {
  /** Without hints, the smallest device at least this big wins (IPA: 4 GiB). */
  minimumSizeBytes?: number;
}

/**
 * IPA's `get_os_install_device` over already-filtered candidates: the first device matching
 * all hints, or without hints the smallest one of at least 4 GiB. Throws `DeviceNotFound`
 * with IPA's messages.
 */
export function selectRootDevice<D extends BlockDevice>(
  devices: readonly D[],
  hints?: Record<string, unknown> | null,
  options: SelectRootDeviceOptions = {},
): D {
  if (!hints || Object.keys(hints).length === 0) {
    const minimum = options.minimumSizeBytes ?? MIN_ROOT_DISK_BYTES;
    const sorted = [...devices].sort((a, b) => a.sizeBytes - b.sizeBytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const device = sorted.find((d) => d.sizeBytes >= minimum);
    if (!device) {
      throw new DeviceNotFound(
        'No suitable device was found for deployment - root device hints were not provided and all found ' +
          `block devices are smaller than ${minimum}B.`,
      );
    }
    return device;
  }
  let matches: D[];
  try {
    matches = findDevicesByHints(devices, hints);
  } catch (error) {
    if (!(error instanceof InvalidRootDeviceHint)) throw error;
    throw new DeviceNotFound(
      `No devices could be found using the root device hints ${pythonRepr(hints)} because they failed to validate. ` +
        `Error: ${error.message}`,
    );
  }
  const device = matches[0];
  if (!device) {
    throw new DeviceNotFound(`No suitable device was found for deployment using these hints ${pythonRepr(hints)}`);
  }
  return device;
}
