/** Bytes read back from a scratch device or its backing file, for the tests' assertions. */
import { closeSync, openSync, readSync } from 'node:fs';

/** `length` bytes at `offset` of `path`; fewer when the file ends first. */
export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}
