/** Checksum files as mirrors publish them (sha256sum, BSD/CentOS style, bare hash) and the algorithm told by length. */
import { describe, expect, it } from 'vitest';
import { parseChecksumFile, resolveExpectedChecksum, validateImageInfo } from '../../../src/hardware/index.js';

const h64 = 'ab'.repeat(32);
const h128 = 'cd'.repeat(64);

describe('checksum files', () => {
  it.each([
    ['sha256sum output', `${'0'.repeat(64)}  other.qcow2\n${h64}  image.qcow2\n`, h64],
    ['binary-mode marker', `${h64} *image.qcow2\n`, h64],
    ['name first', `image.qcow2 ${h64}\n`, h64],
    ['CentOS / BSD style', `# comment image.qcow2\nSHA512 (image.qcow2) = ${h128}\n`, h128],
    ['a bare hash', `${h64}\n`, h64],
    ['sha256sum ./*', `${h64}  ./image.qcow2\n`, h64],
    // Another file whose name contains the image's, listed first: its hash is not the image's.
    ['a longer name first', `${'0'.repeat(64)}  my-image.qcow2\n${h64}  image.qcow2\n`, h64],
    ['a compressed copy first', `${'0'.repeat(64)} *image.qcow2.gz\n${h64} *image.qcow2\n`, h64],
    ['BSD style, a compressed copy first', `SHA256 (image.qcow2.xz) = ${'0'.repeat(64)}\nSHA256 (image.qcow2) = ${h64}\n`, h64],
  ])('finds the hash in %s', (_what, text, expected) => {
    expect(parseChecksumFile(text, 'image.qcow2', 'http://x/SUMS')).toBe(expected);
  });

  it('says when the image is not listed, or the file is empty', () => {
    expect(() => parseChecksumFile(`${h64}  other.img\n${h64}  more.img\n`, 'image.qcow2', 'http://x/SUMS')).toThrow(
      /Checksum file does not contain name image.qcow2/,
    );
    expect(() => parseChecksumFile('\n\n', 'image.qcow2', 'http://x/SUMS')).toThrow(/Empty checksum file/);
    expect(() => parseChecksumFile(`${h64}  image.qcow2.gz\n`, 'image.qcow2', 'http://x/SUMS')).toThrow(
      /Checksum file does not contain name image.qcow2/,
    );
    expect(() => parseChecksumFile(`xyz  image.qcow2\n${h64}  other\n`, 'image.qcow2', 'http://x/SUMS')).toThrow(
      /Invalid checksum file \(no valid checksum found\)/,
    );
  });

  it('tells the algorithm by length and refuses unknown lengths', async () => {
    const info = (checksum: string) =>
      validateImageInfo({ id: 'i', urls: ['http://x/image.qcow2'], checksum }, { md5Enabled: true });
    const fetchText = async () => '';
    await expect(resolveExpectedChecksum(info(h128), { md5Enabled: true, fetchText })).resolves.toMatchObject({
      algorithm: 'sha512',
      value: h128,
    });
    await expect(resolveExpectedChecksum(info('ab'.repeat(16)), { md5Enabled: true, fetchText })).resolves.toMatchObject({
      algorithm: 'md5',
    });
    await expect(resolveExpectedChecksum(info('ab'.repeat(20)), { md5Enabled: true, fetchText })).rejects.toThrow(
      /Unable to identify checksum algorithm/,
    );
    await expect(resolveExpectedChecksum(info('ab'.repeat(16)), { md5Enabled: false, fetchText })).rejects.toThrow(
      /MD5 checksums are disabled/,
    );
  });

  it('prefers os_hash_algo/os_hash_value over the legacy checksum', async () => {
    const info = validateImageInfo(
      { id: 'i', urls: ['http://x/i'], checksum: h128, os_hash_algo: 'sha3_256', os_hash_value: h64.toUpperCase() },
      { md5Enabled: true },
    );
    await expect(resolveExpectedChecksum(info, { md5Enabled: true, fetchText: async () => '' })).resolves.toEqual({
      algorithm: 'sha3_256',
      value: h64,
      source: 'os_hash_value',
    });
  });
});
