/** Both block hashers (inline and worker thread) give node:crypto's digest, in order, across resets and buffer kinds. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InlineHasher, WorkerHasher, type BlockHasher } from '../../../src/hardware/index.js';

describe.each([
  ['inline', (algorithm: string) => new InlineHasher(algorithm)],
  ['worker thread', (algorithm: string) => new WorkerHasher(algorithm)],
])('%s hasher', (_name, make: (algorithm: string) => BlockHasher) => {
  it('hashes shared and ordinary buffers in the order given, and starts over on reset', async () => {
    const hasher = make('sha512');
    try {
      const shared = Buffer.from(new SharedArrayBuffer(3 * 65536));
      randomBytes(shared.length).copy(shared);
      const plain = randomBytes(1000);
      await hasher.update(Buffer.from('discarded'));
      await hasher.reset();
      // The same shared buffer reused for different contents, as the writer's slots are.
      await hasher.update(shared.subarray(0, 65536));
      const first = Buffer.from(shared.subarray(0, 65536));
      randomBytes(65536).copy(shared, 0);
      await Promise.all([hasher.update(shared.subarray(0, 65536)), hasher.update(plain)]);
      const expected = createHash('sha512').update(first).update(shared.subarray(0, 65536)).update(plain).digest('hex');
      expect(await hasher.digest()).toBe(expected);
    } finally {
      await hasher.close();
    }
  });

  it('refuses an unknown algorithm', () => {
    expect(() => make('crc32-not-a-hash')).toThrow(/Unsupported image hash algorithm/);
  });
});
