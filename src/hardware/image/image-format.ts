/**
 * What an image is, from its first bytes and from `qemu-img info`, and the qcow2 → disk
 * conversion. IPA's rules (reference §14.5 B): `raw` (and `gpt`) are trusted as they are;
 * anything else must be in a permitted format (`permitted_image_formats`) equal to Ironic's
 * `disk_format` unless deep image inspection is disabled, and a qcow2 with a backing file or
 * external data file is refused (it could read other files).
 */
import { z } from 'zod';
import { InvalidImage } from '../errors.js';
import { DEFAULT_PERMITTED_IMAGE_FORMATS } from '../settings.js';
import type { Exec } from '../step-context.js';

export type DetectedFormat = 'qcow2' | 'vmdk' | 'vhdx' | 'vdi' | 'qed' | 'luks' | 'raw';

/**
 * IPA's default `permitted_image_formats` (raw, gpt, qcow2). What a step permits is its
 * `settings.permittedImageFormats`: the agent's configuration, replaced by Ironic's lookup.
 */
export const PERMITTED_FORMATS: ReadonlySet<string> = new Set(DEFAULT_PERMITTED_IMAGE_FORMATS);

/**
 * The fewest bytes of an image's start that `detectFormat` and `qcow2VirtualSize` need: a
 * manager telling an image's format reads at least this much (a Range request, say). Part of
 * the plugin contract; the shipped image writer reads more (64 KiB, a qcow2's tables too).
 */
export const FORMAT_PROBE_BYTES = 512;

export function detectFormat(head: Buffer): DetectedFormat {
  const ascii = (start: number, length: number) => head.subarray(start, start + length).toString('latin1');
  if (ascii(0, 4) === 'QFI\xfb') return 'qcow2';
  if (ascii(0, 4) === 'KDMV' || ascii(0, 21) === '# Disk DescriptorFile') return 'vmdk';
  if (ascii(0, 8) === 'vhdxfile') return 'vhdx';
  if (head.length >= 68 && head.readUInt32LE(64) === 0xbeda107f) return 'vdi';
  if (ascii(0, 4) === 'QED\0') return 'qed';
  if (ascii(0, 6) === 'LUKS\xba\xbe') return 'luks';
  return 'raw';
}

/** qcow2 header: virtual size is a big-endian u64 at byte 24. */
export function qcow2VirtualSize(head: Buffer): number {
  return Number(head.readBigUInt64BE(24));
}

const qemuInfoSchema = z.looseObject({
  format: z.string(),
  'virtual-size': z.number(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'format-specific': z
    .looseObject({ type: z.string().optional(), data: z.looseObject({ 'data-file': z.string().optional() }).optional() })
    .optional(),
});

export interface QemuImageInfo {
  format: string;
  virtualSize: number;
  backingFile: string | undefined;
  dataFile: string | undefined;
}

export async function qemuImgInfo(exec: Exec, source: string, format: string): Promise<QemuImageInfo> {
  const { stdout } = await exec('qemu-img', ['info', '--output=json', '-U', '-f', format, source], { quiet: true });
  const info = qemuInfoSchema.parse(JSON.parse(stdout));
  return {
    format: info.format,
    virtualSize: info['virtual-size'],
    backingFile: info['full-backing-filename'] ?? info['backing-filename'],
    dataFile: info['format-specific']?.data?.['data-file'],
  };
}

/** Refuses images IPA's safety check refuses. */
export function assertSafeQemuImage(info: QemuImageInfo, imageId: string): void {
  if (info.backingFile) throw new InvalidImage(`Image ${imageId} has a backing file (${info.backingFile}); refusing it`);
  if (info.dataFile) throw new InvalidImage(`Image ${imageId} has an external data file (${info.dataFile}); refusing it`);
}

/**
 * A qemu block spec reading an image that lies at `offset` on a device: the qcow2 is
 * parked at the end of the target disk and converted onto the disk's start.
 */
export function imageAtOffsetSpec(format: string, device: string, offset: number, size: number): string {
  return `json:${JSON.stringify({
    driver: format,
    file: {
      driver: 'raw',
      offset,
      size,
      // The same device is opened again as the target; image locking would refuse that.
      file: { driver: 'host_device', filename: device, locking: 'off' },
    },
  })}`;
}

export interface ConvertOptions {
  sourceFormat: string;
  onPercent?: (percent: number) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * Only these bytes of the image's disk, onto the same bytes of the device: a `json:`
   * source is read through a raw window over it (block devices only). qemu-img first asks
   * the format where every block of what it converts is, before it copies any: over a
   * qcow2 still arriving, whose L2 tables lie between the data they map, a window needs
   * only its own and can start once they came, where the whole disk would wait for the last.
   */
  range?: { offset: number; size: number };
}

/**
 * `qemu-img convert` straight onto the device: O_DIRECT target (`-t none`, no page cache
 * to grow), out-of-order writes (`-W`), no target creation (`-n`: the disk exists).
 * IPA also caps qemu-img's address space and malloc arenas; qemu-img's own buffers are a
 * few MiB per coroutine, which the bench measures.
 */
export async function convertToDevice(
  exec: Exec,
  source: string,
  device: string,
  isBlockDevice: boolean,
  options: ConvertOptions,
): Promise<void> {
  const { range } = options;
  if (range && (!isBlockDevice || !source.startsWith('json:')))
    throw new Error('a range is converted from a json: source onto a block device');
  const args = [
    'convert',
    '-p',
    '-U',
    '-f',
    range ? 'raw' : options.sourceFormat,
    ...(range ? ['--target-image-opts'] : ['-O', isBlockDevice ? 'host_device' : 'raw']),
    '-t',
    isBlockDevice ? 'none' : 'writeback',
    '-W',
    '-n',
    range ? `json:${JSON.stringify({ driver: 'raw', ...range, file: JSON.parse(source.slice('json:'.length)) })}` : source,
    range ? deviceWindow(device, range) : device,
  ];
  await exec('qemu-img', args, {
    env: { MALLOC_ARENA_MAX: '3' },
    timeoutMs: options.timeoutMs ?? 6 * 60 * 60_000,
    // Not under nice/ionice, as IPA runs it: the conversion is the step's whole work, and
    // niced it got a fraction of a core whenever anything else ran (4 GiB: 30 s where IPA's
    // un-niced convert took 25 s on the same machine). The agent stays responsive without:
    // it sleeps between requests, and the scheduler favours a waking sleeper.
    quiet: true,
    ...(options.signal ? { signal: options.signal } : {}),
    onLine: (line) => {
      const match = /\((\d+(?:\.\d+)?)\/100%\)/.exec(line);
      if (match) options.onPercent?.(Number(match[1]));
    },
  });
}

/** A window of the device as QEMU options (`--target-image-opts`), O_DIRECT as `-t none` is. */
function deviceWindow(device: string, range: { offset: number; size: number }): string {
  // QEMU's option syntax: a comma inside a value is doubled.
  return [
    'driver=raw',
    `offset=${range.offset}`,
    `size=${range.size}`,
    'file.driver=host_device',
    `file.filename=${device.replaceAll(',', ',,')}`,
    'file.cache.direct=on',
  ].join(',');
}
