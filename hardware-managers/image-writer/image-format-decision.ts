/**
 * Which format an image is in, decided before the disk is touched (IPA's
 * `get_and_validate_image_format`): shared by the whole-disk and the partition image writers.
 */
import {
  detectFormat,
  ImageDownloadError,
  InvalidImage,
  PERMITTED_FORMATS,
  qcow2VirtualSize,
  redactUrl,
  type DetectedFormat,
  type HardwareSettings,
  type ImageHttpClient,
  type ImageInfo,
  type StepContext,
} from '../../src/hardware/index.js';

/**
 * The image's first bytes, read to tell its format: enough for a qcow2's header with its
 * extensions (qemu-img keeps them within the first 4 KiB), which decides whether it can be
 * decoded as it streams.
 */
const HEAD_PROBE_BYTES = 64 * 1024;

export interface FormatDecision {
  name: 'raw' | 'qcow2';
  /** Size of the file to download, when the server said. */
  totalBytes: number | undefined;
  /** qcow2 only: the disk size the image expands to. */
  virtualSize: number | undefined;
  /** The image's first bytes, as probed (empty when trusted without a look). */
  head: Buffer;
}

/** What this writer can put on a disk: raw streams onto it, qcow2 is decoded or converted. */
const WRITABLE_FORMATS: ReadonlySet<DetectedFormat> = new Set(['raw', 'qcow2']);

/**
 * IPA's `get_and_validate_image_format` (disk_utils.py), with its messages. An image Ironic
 * declares raw or gpt is written as it is, never inspected nor held to the permitted formats
 * (it never reaches qemu-img). Anything else is inspected from its first bytes: the format
 * found must be in `permitted_image_formats`, then equal `disk_format` (unless `unknown`).
 *
 * With `disable_deep_image_inspection` IPA takes the format `qemu-img info` probes and checks
 * neither; here the first bytes say it, as qemu-img's probe reads them. Deliberate
 * differences: a qcow2 with a backing or external data file is refused even then
 * (write-qcow2.ts), where IPA would let qemu-img read that file: in a ramdisk it can only be
 * one of the ramdisk's own files, never part of an image that boots. And a permitted format
 * this writer has no path for (vmdk, vhdx, ...; IPA converts them with qemu-img) is refused
 * by name rather than written wrong.
 */
export async function decideFormat(
  info: ImageInfo,
  client: ImageHttpClient,
  settings: HardwareSettings,
  ctx: StepContext,
  options: { sizeOfRaw?: boolean } = {},
): Promise<FormatDecision> {
  const declared = (info.disk_format ?? '').toLowerCase();
  if (declared === 'raw' || declared === 'gpt') {
    // Not inspected; its size only, when the caller must know it first (a partition image's
    // root partition). A server that cannot say leaves it to the write, which stops at the end.
    const totalBytes = options.sizeOfRaw
      ? await probeHead(info, client, ctx).then(
          (p) => p.totalBytes,
          () => undefined,
        )
      : undefined;
    return { name: 'raw', totalBytes, virtualSize: undefined, head: Buffer.alloc(0) };
  }
  const probed = await probeHead(info, client, ctx);
  const detected = detectFormat(probed.head);
  if (settings.disableDeepImageInspection) {
    ctx.log.warn(
      { image: info.id, disk_format: declared || null, detected },
      'deep image inspection is disabled (disable_deep_image_inspection): the format is not checked against disk_format or the permitted formats',
    );
  } else {
    const permitted = settings.permittedImageFormats ?? [...PERMITTED_FORMATS];
    if (!permitted.includes(detected)) {
      throw new InvalidImage(`Security: Detected image format was ${detected}, but only ${permitted.join(', ')} are allowed`);
    }
    if (declared && declared !== 'unknown' && declared !== detected) {
      throw new InvalidImage(`Security: Expected format was ${declared}, but image was actually ${detected}`);
    }
  }
  if (!WRITABLE_FORMATS.has(detected)) {
    throw new InvalidImage(`Image ${info.id} is in ${detected} format, which this agent cannot write (only raw and qcow2)`);
  }
  return {
    name: detected as FormatDecision['name'],
    totalBytes: probed.totalBytes,
    virtualSize: detected === 'qcow2' ? qcow2VirtualSize(probed.head) : undefined,
    head: probed.head,
  };
}

/** The image's first bytes from the first URL that answers, and its size when the server says. */
async function probeHead(
  info: ImageInfo,
  client: ImageHttpClient,
  ctx: StepContext,
): Promise<{ head: Buffer; totalBytes: number | undefined }> {
  let problem = '';
  for (const url of info.urls) {
    try {
      return await client.probe(url, HEAD_PROBE_BYTES, ctx.signal);
    } catch (error) {
      problem = `${redactUrl(url)}: ${(error as Error).message}`;
    }
  }
  throw new ImageDownloadError(info.id, `cannot read the image to inspect its format: ${problem}`);
}
