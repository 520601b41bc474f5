/**
 * Finds and imports hardware-manager plugins. Shipped managers (`hardware-managers/*`) and
 * a vendor's (`--hardware-manager-path DIR`) are loaded by this same code, with the same
 * checks: a default export made by `defineHardwareManager`, a compatible contract range,
 * no duplicate names, no bundled copy of the agent itself.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { CONTRACT_VERSION, isHardwareManager, type HardwareManager } from './manager.js';
import type { Logger } from './logger.js';

export interface PluginSource {
  manager: HardwareManager;
  /** Folder the plugin was loaded from. */
  source: string;
}

export interface LoadProblem {
  source: string;
  message: string;
}

export interface LoadResult {
  plugins: PluginSource[];
  problems: LoadProblem[];
}

const ENTRY_CANDIDATES = ['index.mjs', 'index.js', 'index.ts'];
const HOST_PACKAGE = 'ramdisk-agent';

/**
 * Load every plugin in `dirs`. A directory that is itself a plugin (has a package.json or an
 * index file) is loaded as one; otherwise each sub-folder is a plugin, in name order.
 * A broken plugin is reported in `problems` and skipped: one bad vendor folder must not
 * keep the ramdisk from serving.
 */
export async function loadHardwareManagers(dirs: readonly string[], log: Logger): Promise<LoadResult> {
  const plugins: PluginSource[] = [];
  const problems: LoadProblem[] = [];
  const byName = new Map<string, string>();

  for (const dir of dirs) {
    const absolute = resolve(dir);
    let folders: string[];
    try {
      folders = (await findEntry(absolute)) ? [absolute] : await listPluginFolders(absolute);
    } catch (error) {
      problems.push({ source: absolute, message: `cannot read hardware manager directory: ${(error as Error).message}` });
      continue;
    }
    for (const folder of folders) {
      try {
        const manager = await loadOne(folder, log);
        const previous = byName.get(manager.name);
        if (previous) {
          throw new Error(`a hardware manager named "${manager.name}" was already loaded from ${previous}`);
        }
        byName.set(manager.name, folder);
        plugins.push({ manager, source: folder });
      } catch (error) {
        problems.push({ source: folder, message: (error as Error).message });
      }
    }
  }
  for (const problem of problems) log.error(problem, 'hardware manager not loaded');
  return { plugins, problems };
}

async function listPluginFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const folders: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
      folders.push(join(dir, entry.name));
    }
  }
  return folders;
}

async function readPackageJson(folder: string): Promise<Record<string, any> | undefined> {
  try {
    return JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as Record<string, any>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`invalid package.json: ${(error as Error).message}`);
  }
}

async function findEntry(folder: string): Promise<string | undefined> {
  const pkg = await readPackageJson(folder);
  if (typeof pkg?.main === 'string') return join(folder, pkg.main);
  for (const candidate of ENTRY_CANDIDATES) {
    const path = join(folder, candidate);
    if (
      await stat(path).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

async function loadOne(folder: string, log: Logger): Promise<HardwareManager> {
  const entry = await findEntry(folder);
  if (!entry) throw new Error(`no entry point: expected package.json "main" or one of ${ENTRY_CANDIDATES.join(', ')}`);

  const pkg = await readPackageJson(folder);
  if (pkg?.dependencies?.[HOST_PACKAGE]) {
    log.warn(
      { source: folder },
      `plugin lists "${HOST_PACKAGE}" in dependencies and may bundle its own copy of the contract; declare it in peerDependencies`,
    );
  }

  const module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  const manager = module.default ?? module.manager;
  if (!isHardwareManager(manager)) {
    throw new Error(`${entry} does not export a hardware manager made by defineHardwareManager() as its default export`);
  }
  const range = manager.contract;
  if (!semver.validRange(range)) throw new Error(`manager "${manager.name}" declares an invalid contract range "${range}"`);
  if (!semver.satisfies(CONTRACT_VERSION, range, { includePrerelease: true })) {
    throw new Error(`manager "${manager.name}" needs contract ${range}, this agent provides ${CONTRACT_VERSION}`);
  }
  return manager;
}
