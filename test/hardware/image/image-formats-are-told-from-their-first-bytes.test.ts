// FORMAT_PROBE_BYTES is the contract's promise that an image's first bytes are enough to
// tell its container format: images made by qemu-img in every format it names are told
// apart from that many bytes, and a qcow2's virtual size read from them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, FORMAT_PROBE_BYTES, qcow2VirtualSize } from '../../../src/hardware/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VIRTUAL_BYTES = 3 * 1024 * 1024;
const LUKS_CAPTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'image-formats', 'qemu-img-7.2-luks-first-512-bytes.bin');

/**
 * The first FORMAT_PROBE_BYTES of an image qemu-img makes in `format`. LUKS's is a capture
 * from qemu-img (test/fixtures/image-formats/README.md): Debian 12's qemu-img fails to
 * benchmark PBKDF2 on fast CPUs in most attempts before it writes one.
 */
function headOf(format: string, extra: string[] = []): Buffer {
  if (format === 'luks') return readFileSync(LUKS_CAPTURE).subarray(0, FORMAT_PROBE_BYTES);
  const path = join(dir, `image.${format}`);
  execFileSync('qemu-img', ['create', '-q', '-f', format, ...extra, path, String(VIRTUAL_BYTES)]);
  return readFileSync(path).subarray(0, FORMAT_PROBE_BYTES);
}

describe('an image format told from its first FORMAT_PROBE_BYTES bytes', () => {
  it.each([
    ['raw', 'raw', []],
    ['qcow2', 'qcow2', []],
    ['vmdk', 'vmdk', []],
    ['vhdx', 'vhdx', []],
    ['vdi', 'vdi', []],
    ['qed', 'qed', []],
    ['luks', 'luks', []],
  ])('%s', (format, expected, extra) => {
    const head = headOf(format, extra);
    expect(head.length).toBe(FORMAT_PROBE_BYTES);
    expect(detectFormat(head)).toBe(expected);
  });

  it('a qcow2 says its virtual size in them', () => {
    expect(qcow2VirtualSize(headOf('qcow2'))).toBe(VIRTUAL_BYTES);
  });
});
