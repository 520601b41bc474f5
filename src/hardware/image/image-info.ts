/**
 * `image_info` as Ironic sends it (reference §14.1) and IPA's synchronous validation of it
 * (§14.2): the same checks and messages, raised as `InvalidCommandParamsError` (400).
 */
import { z } from 'zod';
import { InvalidCommandParamsError } from '../errors.js';

export const imageInfoSchema = z.looseObject({
  id: z.string(),
  urls: z.array(z.string()),
  disk_format: z.string().nullish(),
  container_format: z.string().nullish(),
  stream_raw_images: z.boolean().nullish(),
  checksum: z.string().nullish(),
  os_hash_algo: z.string().nullish(),
  os_hash_value: z.string().nullish(),
  image_request_authorization: z.string().nullish(),
  image_server_auth_strategy: z.string().nullish(),
  image_server_user: z.string().nullish(),
  image_server_password: z.string().nullish(),
  proxies: z.record(z.string(), z.string()).nullish(),
  no_proxy: z.string().nullish(),
  node_uuid: z.string().nullish(),
  image_type: z.string().nullish(),
  deploy_boot_mode: z.string().nullish(),
  boot_option: z.string().nullish(),
  disk_label: z.string().nullish(),
  configdrive: z.string().nullish(),
  // Partition images (image_type "partition"): the layout Ironic's parse_instance_info sends.
  root_mb: z.number().nullish(),
  swap_mb: z.number().nullish(),
  ephemeral_mb: z.number().nullish(),
  ephemeral_format: z.string().nullish(),
  preserve_ephemeral: z.boolean().nullish(),
});

export type ImageInfo = z.output<typeof imageInfoSchema>;

const MD5_HEX_LENGTH = 32;

export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/**
 * IPA's `_validate_image_info` followed by a parse into the typed shape, and for a partition
 * image the layout's sizes (partitionLayoutProblem).
 */
export function validateImageInfo(raw: unknown, options: { md5Enabled: boolean }): ImageInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidCommandParamsError("Image is missing 'id' field.");
  }
  const info = raw as Record<string, unknown>;
  for (const field of ['id', 'urls']) {
    if (!(field in info)) throw new InvalidCommandParamsError(`Image is missing '${field}' field.`);
  }
  if (!Array.isArray(info.urls) || info.urls.length === 0) {
    throw new InvalidCommandParamsError("Image 'urls' must be a list with at least one element.");
  }
  let checksumAvailable = false;
  const checksum = info.checksum;
  if (checksum !== undefined && checksum !== null) {
    if (typeof checksum !== 'string' || checksum.length === 0) {
      throw new InvalidCommandParamsError("Image 'checksum' must be a non-empty string.");
    }
    if (isHttpUrl(checksum) || checksum.length > MD5_HEX_LENGTH) checksumAvailable = true;
    else if (options.md5Enabled) checksumAvailable = true;
  }
  const algo = info.os_hash_algo;
  const value = info.os_hash_value;
  if (algo || value) {
    if (typeof algo !== 'string' || algo.length === 0) {
      throw new InvalidCommandParamsError("Image 'os_hash_algo' must be a non-empty string.");
    }
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidCommandParamsError("Image 'os_hash_value' must be a non-empty string.");
    }
    checksumAvailable = true;
  }
  if (!checksumAvailable) {
    throw new InvalidCommandParamsError(
      "Image checksum is not available, either the 'checksum' field or the 'os_hash_algo' and 'os_hash_value' fields must be provided.",
    );
  }
  if (info.image_type === 'partition') {
    const problem = partitionLayoutProblem(info);
    if (problem) throw new InvalidCommandParamsError(`Image ${String(info.id)} is a partition image: ${problem}`);
  }
  const parsed = imageInfoSchema.safeParse({ ...info, ...partitionSizes(info) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidCommandParamsError(`Invalid image_info: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  for (const url of parsed.data.urls) {
    if (!isHttpUrl(url)) throw new InvalidCommandParamsError(`Image URL ${url} is not an http(s) URL.`);
  }
  return parsed.data;
}

const PARTITION_SIZES = ['root_mb', 'swap_mb', 'ephemeral_mb'] as const;

/**
 * IPA reads `root_mb`, `swap_mb` and `ephemeral_mb` as given and fails inside the async
 * command (a KeyError, or parted refusing a size) when one is missing or not a number;
 * here a partition image's layout is checked before the command starts, an HTTP 400 with
 * what is wrong. Ironic sends integers (parse_instance_info casts them); digit strings are
 * taken as their number, as IPA's `int(root_mb)` does.
 */
function partitionLayoutProblem(info: Record<string, unknown>): string | undefined {
  const sizes = partitionSizes(info);
  for (const key of PARTITION_SIZES) {
    const value = sizes[key];
    if (key === 'root_mb' && (value === undefined || value === null)) return "'root_mb' is required";
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      return `'${key}' must be a non-negative integer of MiB, not ${JSON.stringify(info[key])}`;
    }
  }
  if (sizes.root_mb === 0) return "'root_mb' must be more than 0";
  const format = info.ephemeral_format;
  if (format !== undefined && format !== null && (typeof format !== 'string' || !/^[a-z0-9]+$/.test(format))) {
    return `'ephemeral_format' must be a file system name such as ext4, not ${JSON.stringify(format)}`;
  }
  if (info.preserve_ephemeral !== undefined && info.preserve_ephemeral !== null && typeof info.preserve_ephemeral !== 'boolean') {
    return `'preserve_ephemeral' must be true or false, not ${JSON.stringify(info.preserve_ephemeral)}`;
  }
  return undefined;
}

function partitionSizes(info: Record<string, unknown>): Partial<Record<(typeof PARTITION_SIZES)[number], unknown>> {
  const sizes: Partial<Record<(typeof PARTITION_SIZES)[number], unknown>> = {};
  for (const key of PARTITION_SIZES) {
    const value = info[key];
    if (value === undefined) continue;
    sizes[key] = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return sizes;
}
