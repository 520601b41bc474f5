/**
 * The ramdisk under test (`make image` output): where it is, a private copy for one run (a
 * rebuild in progress must not change files mid-boot), and its sizes, compressed and unpacked.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

const IMAGE_FILES = ['ramdisk-agent.kernel', 'ramdisk-agent.initramfs', 'boot.ipxe'] as const;

/** RAMDISK_AGENT_IMAGE_DIR, else the repository's dist/image. */
function imageDir(): string {
  return resolve(process.env.RAMDISK_AGENT_IMAGE_DIR ?? join(import.meta.dirname, '..', '..', '..', 'dist', 'image'));
}

/** Why the e2e run cannot start, or undefined when the image is there. */
export function missingImage(dir = imageDir()): string | undefined {
  const missing = IMAGE_FILES.filter((f) => !existsSync(join(dir, f)));
  return missing.length > 0
    ? `${missing.join(', ')} not found in ${dir} (run make image, or set RAMDISK_AGENT_IMAGE_DIR)`
    : undefined;
}

export function copyImage(to: string, from = imageDir()): void {
  mkdirSync(to, { recursive: true });
  for (const file of IMAGE_FILES) copyFileSync(join(from, file), join(to, file));
}

const MAGICS: Array<{ magic: Buffer; tool?: string[]; gzip?: boolean }> = [
  { magic: Buffer.from([0x1f, 0x8b]), gzip: true },
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: ['xz', '-dc'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: ['zstd', '-dc'] },
  { magic: Buffer.from([0x5d, 0x00, 0x00]), tool: ['xz', '--format=lzma', '-dc'] },
];

function decompressedLength(data: Buffer): number | undefined {
  for (const { magic, tool, gzip } of MAGICS) {
    if (!data.subarray(0, magic.length).equals(magic)) continue;
    try {
      if (gzip) return gunzipSync(data).length;
      // The kernel payload is followed by a size trailer: decompressors may complain about it
      // after writing everything, so count what they wrote.
      const out = execFileSync(tool![0]!, tool!.slice(1), { input: data, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] });
      return out.length;
    } catch (error) {
      const partial = (error as { stdout?: Buffer }).stdout;
      return partial && partial.length > 0 ? partial.length : undefined;
    }
  }
  return undefined;
}

/** vmlinux size inside a bzImage (boot protocol ≥ 2.08: payload_offset 0x248, payload_length 0x24c). */
function kernelUnpacked(file: string): number | undefined {
  const image = readFileSync(file);
  if (image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSectors = image[0x1f1] || 4;
  const payloadOffset = image.readUInt32LE(0x248);
  const payloadLength = image.readUInt32LE(0x24c);
  const start = (setupSectors + 1) * 512 + payloadOffset;
  return decompressedLength(image.subarray(start, start + payloadLength));
}

export interface ImageSizes {
  kernelBytes: number;
  kernelUnpackedBytes: number | undefined;
  initramfsBytes: number;
  initramfsUnpackedBytes: number | undefined;
}

export function imageSizes(dir: string): ImageSizes {
  const kernel = join(dir, 'ramdisk-agent.kernel');
  const initramfs = join(dir, 'ramdisk-agent.initramfs');
  return {
    kernelBytes: statSync(kernel).size,
    kernelUnpackedBytes: kernelUnpacked(kernel),
    initramfsBytes: statSync(initramfs).size,
    initramfsUnpackedBytes: decompressedLength(readFileSync(initramfs)),
  };
}

export const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
