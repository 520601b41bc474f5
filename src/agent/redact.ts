/**
 * Secrets never leave the agent in what it stores or shows: command results (which a
 * 2023.1 conductor reads without a token, so anyone on the provisioning network can), their
 * `command_progress`, and the log bundle. IPA masks with oslo's `mask_password` /
 * `mask_dict_password` (secret-looking keys) and drops large keys (`remove_large_keys`:
 * `configdrive`); here the same, plus what image URLs carry: credentials in the URL, Swift's
 * `temp_url_sig`, S3 signatures, and `image_request_authorization` (a bearer header).
 * Ironic compares only `interface` and `step` of the step echoed in a result, so masking the
 * echo's arguments changes nothing for it.
 */

const MASK = '***';
/** IPA's placeholder for a dropped large value. */
const ELIDED = '<...>';

/**
 * Substrings of key names whose values are secret: oslo's `_SANITIZE_KEYS` (what IPA's and
 * Ironic's `mask_dict_password` match, as substrings of the lowered key; `configdrive` is
 * elided instead) plus what image URLs and headers carry. A vendor step's `passphrase` (a
 * LUKS or OPAL key) or `keyring` echoed in its result was readable by anyone who can list
 * the commands.
 */
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'pswd',
  'admin_pass',
  'adminpass',
  'new_pass',
  'secret',
  'token',
  'passphrase',
  'encrypted_key',
  'encryption_key',
  'private_key',
  'fernetkey',
  'sslkey',
  'cephxkey',
  'pskkey',
  'keyring',
  'authorization',
  'temp_url_sig',
];
/** Values only ever sent to the agent, never read back: echoed as IPA's `<...>`. */
const LARGE_KEYS = new Set(['configdrive']);
/**
 * What the agent itself reports under such a key is kept: the config drive Ironic sends is
 * a string (base64 of a gzipped ISO, or a URL), while `get_partition_uuids`' `partitions`
 * and `write_image`'s result name the partition it went to (`/dev/sda3`, or an object).
 * IPA and Ironic elide these keys in log lines only, so they never met the difference.
 */
const PARTITION_PATH = /^\/[^\s]{1,4095}$/;

/**
 * Keys whose object is keyed by names the agent chose, not by field names: the managers'
 * versions in a step listing (`{"BmcPasswordManager": "1.0"}`). Masking those values made a
 * manager's version `***`; Ironic sends the listed versions back with every step, the agent
 * compared `1.0` with `***` and answered CLEAN_VERSION_MISMATCH, and cleaning started over
 * for ever.
 */
export const NAME_KEYED_KEYS: ReadonlySet<string> = new Set(['hardware_manager_version']);

function isNameToTextMap(item: unknown): item is Record<string, string> {
  return (
    typeof item === 'object' &&
    item !== null &&
    !Array.isArray(item) &&
    Object.values(item as Record<string, unknown>).every((v) => typeof v === 'string')
  );
}

function isElided(key: string, item: unknown): boolean {
  return LARGE_KEYS.has(key) && typeof item === 'string' && !PARTITION_PATH.test(item);
}
/** Base64 blobs (system logs, config drives) are not scanned: no URL hides in them. */
const MAX_SCANNED_STRING = 64 * 1024;

const TEXT_PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host → scheme://***@host. Not across a quote, bracket or JSON
  // escape: in a log line (JSON) a URL without a path must not mask up to a later field's "@".
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>\\]+@/gi, `$1${MASK}@`],
  // Swift temp URLs, S3 pre-signed URLs.
  [/([?&;](?:temp_url_sig|x-amz-signature|x-amz-credential|x-amz-security-token|signature)=)[^&\s"'<>]*/gi, `$1${MASK}`],
  // The agent token in a URL, whatever the encoding of its name, on the command line or the
  // kernel command line (ipa-agent-token=).
  [/((?:a|%61)gent(?:_|%5f)token=)[^&\s"']*/gi, `$1${MASK}`],
  [/(ipa-agent-token=)\S*/gi, `$1${MASK}`],
  [/(--agent-token[= ])\S*/gi, `$1${MASK}`],
  [/(authorization:\s*(?:bearer|basic)\s+)\S+/gi, `$1${MASK}`],
];

/** Any part, anywhere in the key, in any case: one native match per key of every result. */
const SECRET_KEY_PART = new RegExp(SECRET_KEY_PARTS.join('|'), 'i');

function isSecretKey(key: string): boolean {
  return SECRET_KEY_PART.test(key);
}

/**
 * Masks secrets in free text (a log line, a tool's output): `knownSecrets` by value, then
 * the patterns above, unless the text is longer than `scanLimit`.
 */
export function redactText(
  text: string,
  knownSecrets: readonly (string | undefined)[] = [],
  scanLimit = MAX_SCANNED_STRING,
): string {
  // Indexed loops, no destructuring: this runs on every log line, in code V8 does not
  // optimise here (bin/ramdisk-agent's --max-opt=2), where for...of and [a, b] = entry
  // allocate iterator objects each time (~1.5 KB a get_clean_steps request).
  let out = text;
  for (let i = 0; i < knownSecrets.length; i++) {
    const secret = knownSecrets[i];
    if (secret !== undefined && secret.length >= 8 && out.includes(secret)) out = out.split(secret).join(MASK);
  }
  if (out.length > scanLimit) return out;
  for (let i = 0; i < TEXT_PATTERNS.length; i++) {
    const entry = TEXT_PATTERNS[i]!;
    out = out.replace(entry[0], entry[1]);
  }
  return out;
}

/**
 * `"<secret key>":"<text>"` in JSON text: a field with a secret-looking name, as
 * redactValue masks it in a value. A log line is JSON made by pino, so a hardware manager
 * that logs an object holding `ipmi_password` or a step's `passphrase` gets it masked
 * there; strings only (`"\"` escapes included), numbers and objects are left as they are.
 */
const SECRET_JSON_FIELD = new RegExp(
  `("[^"\\\\]*(?:${SECRET_KEY_PARTS.join('|')})[^"\\\\]*"\\s*:\\s*")(?:[^"\\\\]|\\\\.)+(")`,
  'gi',
);

export function redactJsonFields(text: string): string {
  return text.replace(SECRET_JSON_FIELD, `$1${MASK}$2`);
}

/** A copy of `value` with secret keys masked, large echoed keys elided and secrets in strings masked. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactValue(toJSON.call(value), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (isElided(key, item)) out[key] = ELIDED;
    else if (NAME_KEYED_KEYS.has(key) && isNameToTextMap(item)) out[key] = { ...item };
    else if (isSecretKey(key) && typeof item === 'string' && item !== '') out[key] = MASK;
    else out[key] = redactValue(item, depth + 1);
  }
  return out;
}
