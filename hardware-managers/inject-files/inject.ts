/**
 * IPA's `inject_files` deploy/service step: each file goes to the partition named by
 * `partition` (a number on the install disk, or a device path), else to the first partition
 * of the install disk that has the path's first directory; `deleted: true` removes it;
 * `mode`, `owner`, `group` and (for a directory it had to create) `dirmode` are applied;
 * `content` is base64, or a URL (node- and port-specific with `{node[uuid]}`-style fields).
 */
import {
  CommandExecutionError,
  ImageHttpClient,
  InvalidCommandParamsError,
  isIpaError,
  type ImageInfo,
  type StepContext,
} from '../../src/hardware/index.js';
import type { FileTree } from './file-trees.js';
import { withFileTree } from './file-trees.js';
import { partitionByNumber, withPartitionHolding } from './partitions.js';
import { formatPythonFields } from './url-template.js';
import { describeFile, normalizedPath, validateFiles, type FileSpec } from './validate.js';

/** Injected files are configuration, not images: a URL answering more than this is refused. */
const MAX_URL_CONTENT_BYTES = 64 * 1024 * 1024;

export interface InjectResult {
  injected: string[];
  deleted: string[];
}

/** Opens where `file` belongs and hands over the tree and the path inside it. */
async function withFileLocation<T>(
  ctx: StepContext,
  file: FileSpec,
  rootDevice: string,
  use: (tree: FileTree, relative: string) => Promise<T>,
): Promise<T> {
  const path = normalizedPath(file.path);
  const partition = file.partition;
  // IPA tests `if partition:`, so 0 (like null and '') means "not given": the file's first
  // directory finds the partition. The string '0' is truthy there and names partition 0.
  if (partition !== undefined && partition !== null && partition !== '' && partition !== 0) {
    const number = typeof partition === 'number' ? partition : /^\d+$/.test(partition.trim()) ? Number(partition) : undefined;
    const device = number === undefined ? String(partition) : await partitionByNumber(ctx, rootDevice, number);
    return withFileTree(ctx, device, (tree) => use(tree, path));
  }
  const slash = path.indexOf('/');
  if (slash < 0) throw new InvalidCommandParamsError(`Invalid path ${path}, must be an absolute path to a file`);
  return withPartitionHolding(ctx, rootDevice, path.slice(0, slash), (tree) => use(tree, path));
}

async function fetchContent(ctx: StepContext, content: string, verifyCa: boolean): Promise<Buffer> {
  if (!content.includes('://')) return Buffer.from(content, 'base64');
  const url = formatPythonFields(content, { node: ctx.node, ports: ctx.ports });
  const settings = { ...ctx.settings!, ...(verifyCa ? {} : { insecure: true }) };
  const client = new ImageHttpClient({ id: 'inject_files', urls: [url] } as unknown as ImageInfo, settings);
  const opened = await client.open(url, ctx.signal ? { signal: ctx.signal } : {});
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of opened.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_URL_CONTENT_BYTES) {
      opened.body.destroy();
      throw new Error(`more than ${MAX_URL_CONTENT_BYTES} bytes at ${url}`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function injectOne(
  ctx: StepContext,
  file: FileSpec,
  rootDevice: string,
  verifyCa: boolean,
  result: InjectResult,
): Promise<void> {
  await withFileLocation(ctx, file, rootDevice, async (tree, relative) => {
    if (file.deleted) {
      await tree.remove(relative);
      ctx.log.info({ path: file.path }, 'file deleted');
      result.deleted.push(file.path);
      return;
    }
    try {
      if (typeof file.content !== 'string') throw new Error("'content'");
      const content = await fetchContent(ctx, file.content, verifyCa);
      await tree.write(relative, content, { mode: file.mode, dirmode: file.dirmode, owner: file.owner, group: file.group });
      ctx.log.info({ path: file.path, partition: file.partition ?? null, filesystem: tree.filesystem }, 'file injected');
      result.injected.push(file.path);
    } catch (error) {
      const reason = isIpaError(error) ? error.details : error instanceof Error ? error.message : String(error);
      // IPA's message, "<class 'type'>" included (it prints the type of the exception's type).
      throw new CommandExecutionError(`Failed to process file ${describeFile(file)}. <class 'type'>: ${reason}`);
    }
  });
}

export async function injectFiles(ctx: StepContext, files: unknown, verifyCa: unknown): Promise<InjectResult> {
  const fromProperties = (ctx.node.properties as Record<string, unknown> | undefined)?.inject_files ?? [];
  const all = validateFiles(fromProperties ?? [], files ?? []);
  const result: InjectResult = { injected: [], deleted: [] };
  if (all.length === 0) {
    ctx.log.info('No files to inject');
    return result;
  }
  const rootDevice = await ctx.dispatch('get_os_install_device', ctx);
  // Only `false` turns verification off. IPA's `if not verify_ca` verifies for any string,
  // "false" included; it also turns it off for None, 0 and '', which here verify (never less
  // checking than asked for).
  for (const file of all) await injectOne(ctx, file, rootDevice, verifyCa !== false, result);
  return result;
}
