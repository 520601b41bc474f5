/**
 * Which checksum an image is verified against (reference §14.3): `os_hash_algo` +
 * `os_hash_value` first, else the legacy `checksum` (its algorithm told by its length);
 * either value may be a URL of a checksum file, which is fetched and searched for the
 * image's file name.
 */
import { createHash, getHashes, type Hash } from 'node:crypto';
import { basename } from 'node:path';
import { ImageDownloadError, InvalidCommandParamsError } from '../errors.js';
import { isHttpUrl, type ImageInfo } from './image-info.js';

export interface ExpectedChecksum {
  /** Glance's name of the algorithm (`sha256`, `sha3_512`, `md5`, ...). */
  algorithm: string;
  /** Lower-case hex digest. */
  value: string;
  /** Where the value came from: `os_hash_value`, `checksum`, or a checksum file URL. */
  source: string;
}

const ALGORITHM_BY_HEX_LENGTH: Readonly<Record<number, string>> = { 32: 'md5', 64: 'sha256', 128: 'sha512' };

/** Glance/hashlib names → OpenSSL's names as Node knows them. */
export function nodeHashName(algorithm: string): string | undefined {
  const name = algorithm.trim().toLowerCase();
  const mapped =
    {
      sha3_224: 'sha3-224',
      sha3_256: 'sha3-256',
      sha3_384: 'sha3-384',
      sha3_512: 'sha3-512',
      blake2b: 'blake2b512',
      blake2s: 'blake2s256',
    }[name] ?? name;
  return getHashes().includes(mapped) ? mapped : undefined;
}

export function isKnownHashAlgorithm(algorithm: string): boolean {
  return nodeHashName(algorithm) !== undefined;
}

export function createImageHash(algorithm: string): Hash {
  const name = nodeHashName(algorithm);
  if (!name) throw new InvalidCommandParamsError(`Unsupported image hash algorithm ${algorithm}`);
  return createHash(name);
}

function algorithmByLength(value: string, md5Enabled: boolean): string {
  const algorithm = ALGORITHM_BY_HEX_LENGTH[value.length];
  if (!algorithm || !/^[0-9a-f]+$/i.test(value)) {
    throw new ImageDownloadError('checksum', `Unable to identify checksum algorithm for checksum ${value}`);
  }
  if (algorithm === 'md5' && !md5Enabled) {
    throw new ImageDownloadError(
      'checksum',
      'MD5 checksums are disabled (md5_enabled is false); provide a SHA-256 or SHA-512 checksum',
    );
  }
  return algorithm;
}

const HASH = '[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{32}';
/** `<hash>  name` (sha256sum), `<hash> *name` (binary mode), `SHA256 (name) = <hash>` (BSD, CentOS), `name <hash>`. */
const CHECKSUM_LINES: readonly RegExp[] = [
  new RegExp(`^(?<hash>${HASH})\\s+\\*?(?<name>.+)$`),
  new RegExp(`^[\\w-]+\\s*\\((?<name>.+)\\)\\s*=\\s*(?<hash>${HASH})$`),
  new RegExp(`^(?<name>\\S.*?)\\s+(?<hash>${HASH})$`),
];

/**
 * The checksum for `imageFileName` in a checksum file: a file holding only a hash, or lines
 * like `<hash>  name`, `<hash> *name`, `name <hash>` or `SHA256 (name) = <hash>`. The name
 * must be the whole file name, as IPA compares it (`fname.strip().lstrip('*') ==
 * expected_fname`): a line for `afoo.img` or `foo.img.gz` listed first is not `foo.img`'s
 * (taking its hash failed every download round, then the step). IPA 9.4.3 reads only the
 * first form; a leading `./` (`sha256sum ./*`) is accepted here too.
 */
export function parseChecksumFile(text: string, imageFileName: string, location: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length === 0) throw new ImageDownloadError(location, 'Empty checksum file');
  if (lines.length === 1 && !/\s/.test(lines[0]!)) return lines[0]!;
  let namedWithoutHash = false;
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    for (const form of CHECKSUM_LINES) {
      const groups = form.exec(line)?.groups;
      if (groups?.name?.trim().replace(/^\.\//, '') === imageFileName) return groups.hash!;
    }
    if (line.split(/[\s*()]+/).some((token) => token.replace(/^\.\//, '') === imageFileName)) namedWithoutHash = true;
  }
  if (namedWithoutHash) throw new ImageDownloadError(location, 'Invalid checksum file (no valid checksum found)');
  throw new ImageDownloadError(location, `Checksum file does not contain name ${imageFileName}`);
}

export interface ResolveChecksumOptions {
  md5Enabled: boolean;
  /** Fetches a checksum file with the image's credentials, proxies and TLS settings. */
  fetchText(url: string): Promise<string>;
}

export async function resolveExpectedChecksum(info: ImageInfo, options: ResolveChecksumOptions): Promise<ExpectedChecksum> {
  const imageFileName = basename(new URL(info.urls[0]!).pathname);
  const fetchValue = async (value: string): Promise<{ value: string; source: string }> => {
    const trimmed = value.trim();
    if (!isHttpUrl(trimmed)) return { value: trimmed.toLowerCase(), source: 'inline' };
    const text = await options.fetchText(trimmed);
    return { value: parseChecksumFile(text, imageFileName, trimmed).toLowerCase(), source: trimmed };
  };

  if (info.os_hash_algo && info.os_hash_value && isKnownHashAlgorithm(info.os_hash_algo)) {
    const algorithm = info.os_hash_algo.toLowerCase();
    if (algorithm === 'md5' && !options.md5Enabled) {
      throw new ImageDownloadError(
        info.id,
        'MD5 checksums are disabled (md5_enabled is false); provide a SHA-256 or SHA-512 checksum',
      );
    }
    const { value, source } = await fetchValue(info.os_hash_value);
    return { algorithm, value, source: source === 'inline' ? 'os_hash_value' : source };
  }
  if (info.checksum) {
    const { value, source } = await fetchValue(info.checksum);
    return { algorithm: algorithmByLength(value, options.md5Enabled), value, source: source === 'inline' ? 'checksum' : source };
  }
  throw new ImageDownloadError(
    info.id,
    `Unsupported os_hash_algo ${info.os_hash_algo ?? '(none)'} and no legacy checksum to fall back to`,
  );
}
