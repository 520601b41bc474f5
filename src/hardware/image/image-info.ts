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
});

export type ImageInfo = z.output<typeof imageInfoSchema>;

const MD5_HEX_LENGTH = 32;

export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/**
 * IPA's `_validate_image_info` followed by a parse into the typed shape. Partition images
 * are refused here: this agent writes whole-disk images only (partition images are a
 * later feature), and saying so up front beats failing after the disk was wiped.
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
  const parsed = imageInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidCommandParamsError(`Invalid image_info: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  for (const url of parsed.data.urls) {
    if (!isHttpUrl(url)) throw new InvalidCommandParamsError(`Image URL ${url} is not an http(s) URL.`);
  }
  if (parsed.data.image_type === 'partition') {
    throw new InvalidCommandParamsError(
      `Image ${parsed.data.id} is a partition image; this agent writes whole-disk images only. ` +
        'Use a whole-disk image (image_type "whole-disk").',
    );
  }
  return parsed.data;
}
