/**
 * Finds and imports hardware-manager plugins. Shipped managers (`hardware-managers/*`), a
 * vendor's folders (`--hardware-manager-path DIR`) and npm packages carrying the
 * `ramdisk-agent-plugin` keyword are loaded by this same code, with the same checks: each
 * entry exports managers made by `defineHardwareManager` (default export, a list of them, or
 * a `managers` list), a compatible contract range, no duplicate names, JavaScript only.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { CONTRACT_VERSION, isHardwareManager, type HardwareManager } from './manager.js';
import type { Logger } from './logger.js';
import {
  describeImportFailure,
  ENTRY_HINT,
  findEntries,
  namesSpecifier,
  PLUGIN_KEYWORD,
  readPackageJson,
  type PluginPackageJson,
} from './plugin-entry.js';
import { CONTRACT_SPECIFIER, routeContractImportsToHost } from './host-resolve.js';
import { MANAGER_START_TIMEOUT_MS, TimeLimitExceeded, withTimeLimit } from './time-limit.js';

export interface PluginSource {
  manager: HardwareManager;
  /** File the manager was loaded from. */
  source: string;
}

export interface LoadProblem {
  source: string;
  message: string;
}

export interface LoadOptions {
  /**
   * How long one entry file may take to import (`hardware_manager_start_timeout`, as for
   * `evaluateHardwareSupport()`): a module whose top-level await never settles (a vendor
   * SDK's handshake with a BMC that does not answer) is reported and skipped.
   */
  importTimeoutMs?: number;
}

export interface LoadResult {
  plugins: PluginSource[];
  problems: LoadProblem[];
}

const HOST_PACKAGE = 'ramdisk-agent';
const PARALLEL_READS = 4;

/**
 * Load every plugin in `dirs`. A directory that is itself a plugin (has a package.json or an
 * index file) is loaded as one; otherwise each sub-folder is a plugin, in name order (in a
 * `node_modules` folder, each package with the `ramdisk-agent-plugin` keyword, scoped ones
 * included). A broken plugin is reported in
 * `problems` and skipped: one bad vendor folder must not keep the ramdisk from serving.
 */
export async function loadHardwareManagers(dirs: readonly string[], log: Logger, options: LoadOptions = {}): Promise<LoadResult> {
  const importTimeoutMs = options.importTimeoutMs ?? MANAGER_START_TIMEOUT_MS;
  const plugins: PluginSource[] = [];
  const problems: LoadProblem[] = [];
  const byName = new Map<string, string>();
  const byClassName = new Map<string, { name: string; source: string }>();
  const loadedFolders = new Set<string>();

  for (const dir of dirs) {
    const absolute = resolve(dir);
    let folders: string[];
    try {
      folders = (await findEntries(absolute)).length > 0 ? [absolute] : await pluginFoldersIn(absolute);
    } catch (error) {
      problems.push({ source: absolute, message: `cannot read hardware manager directory: ${(error as Error).message}` });
      continue;
    }
    for (const folder of folders) {
      // The same plugin reached twice (listed with --hardware-manager-path and found by npm
      // discovery, or through a symlink) is one plugin, not a duplicate to report.
      const real = await realpath(folder).catch(() => folder);
      if (loadedFolders.has(real)) continue;
      loadedFolders.add(real);
      try {
        for (const { manager, source } of await loadFolder(folder, importTimeoutMs, log)) {
          const previous = byName.get(manager.name);
          if (previous) {
            problems.push({
              source: folder,
              message: `a hardware manager named "${manager.name}" was already loaded from ${previous}`,
            });
            continue;
          }
          // IPA keys dispatch_to_all_managers' answer by class name, and so does the agent
          // (get_*_steps' listing, collect_system_logs' entries): a second manager of the same
          // class name would silently hide the first's steps or logs. IPA loads both and loses
          // one; here the second is refused and the problem names both, so the author knows.
          const sameClass = byClassName.get(manager.className);
          if (sameClass) {
            problems.push({
              source: folder,
              message:
                `hardware manager "${manager.name}" has the class name "${manager.className}" of hardware manager ` +
                `"${sameClass.name}" already loaded from ${sameClass.source}; results keyed by class name would ` +
                `hide one of them: give it a className of its own`,
            });
            continue;
          }
          byName.set(manager.name, source);
          byClassName.set(manager.className, { name: manager.name, source });
          plugins.push({ manager, source });
        }
      } catch (error) {
        problems.push({ source: folder, message: (error as Error).message });
      }
    }
  }
  for (const problem of problems) log.error(problem, 'hardware manager not loaded');
  return { plugins, problems };
}

/**
 * Packages installed with npm that declare themselves plugins (`"keywords":
 * ["ramdisk-agent-plugin"]`), in the given `node_modules` folders: the agent's own and the
 * global one, as Homebridge finds its plugins. Missing folders are skipped.
 */
export async function findInstalledPlugins(nodeModulesDirs: readonly string[]): Promise<string[]> {
  const perDir = await Promise.all(nodeModulesDirs.map((dir) => listPluginFolders(dir).catch(() => [])));
  const packages = perDir.flat();
  // Parse only the few files that mention the keyword at all. Four reads at a time, as many as
  // libuv has threads: as fast as reading all at once (~300 packages beside a development
  // checkout: ~50 ms either way), while all at once held ~4 MiB more memory for good.
  const marked = new Array<boolean>(packages.length).fill(false);
  let next = 0;
  const reader = async () => {
    while (next < packages.length) {
      const index = next++;
      const text = await readFile(join(packages[index]!, 'package.json'), 'utf8').catch(() => '');
      if (!text.includes(PLUGIN_KEYWORD)) continue;
      try {
        marked[index] = (JSON.parse(text) as PluginPackageJson).keywords?.includes(PLUGIN_KEYWORD) === true;
      } catch {
        // not valid JSON: not a plugin
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_READS }, reader));
  return packages.filter((_, index) => marked[index]);
}

/**
 * Where `npm install` puts packages the agent should look at: the `node_modules` folders Node
 * would search from the agent's own package (its own, then each parent's: `npm install
 * ramdisk-agent acme-plugin` puts both side by side), then the global one (`npm install -g`).
 */
export function defaultNodeModulesDirs(agentRoot: string | undefined): string[] {
  const dirs: string[] = [];
  for (let dir = agentRoot; dir && !dirs.includes(join(dir, 'node_modules')); dir = dirname(dir)) {
    if (!dir.endsWith('/node_modules')) dirs.push(join(dir, 'node_modules'));
  }
  // `npm install -g` puts packages in <prefix>/lib/node_modules; node lives in <prefix>/bin.
  dirs.push(join(dirname(dirname(process.execPath)), 'lib', 'node_modules'));
  return dirs;
}

/**
 * The plugins of a folder of plugins. In a `node_modules` folder (`npm install --prefix DIR
 * acme-hw`), only the packages marked with the keyword: the others are the plugins'
 * dependencies, and importing each as a plugin ran its code (a CLI's main, a module with side
 * effects) and reported every one as a broken plugin.
 */
async function pluginFoldersIn(dir: string): Promise<string[]> {
  if (basename(dir) !== 'node_modules') return await listPluginFolders(dir);
  await readdir(dir); // a missing or unreadable folder is reported, as any other
  return await findInstalledPlugins([dir]);
}

async function listPluginFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const folders: string[] = [];
  // Code-unit order, as `ls` in the C locale: localeCompare would load ICU's collation data
  // (~2.7 MiB of the node binary paged in) for a sort of a few folder names.
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    if (entry.name.startsWith('@')) {
      folders.push(...(await listPluginFolders(join(dir, entry.name))));
    } else {
      folders.push(join(dir, entry.name));
    }
  }
  return folders;
}

/** Whether the plugin imports the contract by its package name (then it needs the host hook). */
function importsContractByName(pkg: PluginPackageJson | undefined): boolean {
  if (!pkg) return false;
  const fields = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
  return fields.some((f) => typeof pkg[f] === 'object' && pkg[f] !== null && HOST_PACKAGE in (pkg[f] as object));
}

async function loadFolder(folder: string, importTimeoutMs: number, log: Logger): Promise<PluginSource[]> {
  const entries = await findEntries(folder);
  if (entries.length === 0) throw new Error(`no entry point: expected ${ENTRY_HINT}`);
  const pkg = await readPackageJson(folder);
  if (typeof pkg?.dependencies === 'object' && pkg.dependencies !== null && HOST_PACKAGE in pkg.dependencies) {
    // Harmless at run time (the name is routed to the running agent), but npm installs a
    // second copy of the whole agent with the plugin, in a RAM-bound ramdisk.
    log.warn(
      { source: folder },
      `${folder}: package.json lists "${HOST_PACKAGE}" in dependencies, so npm installs a second copy of the agent with the plugin; the plugin is given the running agent's contract anyway: make it a devDependency`,
    );
  }
  // Before the import: Node keeps a failed resolution, so routing the name afterwards and
  // importing again would not help. Only package.json was asked before, so a plain-folder plugin
  // failed to load, unless a plugin that declared the dependency happened to load before it.
  if (importsContractByName(pkg) || (await namesSpecifier(folder, CONTRACT_SPECIFIER))) routeContractImportsToHost();

  const loaded: PluginSource[] = [];
  for (const entry of entries) {
    let module: Record<string, unknown>;
    try {
      // Without a limit, one such module kept the agent from ever serving: plugins load before
      // the lookup, so Ironic saw no heartbeat and no reason. The import cannot be cancelled;
      // if it settles later, nothing uses it. (IPA's stevedore import has no limit either.)
      const url = pathToFileURL(entry).href;
      module = (await withTimeLimit(() => import(url), importTimeoutMs, `importing ${entry}`)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof TimeLimitExceeded) {
        throw new Error(`${error.message} (a top-level await that never settles?); its managers are not loaded`, {
          cause: error,
        });
      }
      throw new Error(describeImportFailure(entry, error), { cause: error });
    }
    const managers = managersOf(module);
    if (managers.length === 0) {
      throw new Error(
        `${entry} does not export a hardware manager made by defineHardwareManager() as its default export ` +
          `(or a list of them; import the contract from "${CONTRACT_SPECIFIER}")`,
      );
    }
    for (const manager of managers) {
      checkContract(manager, entry);
      loaded.push({ manager, source: entry });
    }
  }
  return loaded;
}

function managersOf(module: Record<string, unknown>): HardwareManager[] {
  const exported = module.default ?? module.managers ?? module.manager;
  const candidates = Array.isArray(exported) ? exported : [exported];
  return candidates.every(isHardwareManager) ? candidates : [];
}

function checkContract(manager: HardwareManager, entry: string): void {
  const range = manager.contract;
  if (!semver.validRange(range))
    throw new Error(`manager "${manager.name}" (${entry}) declares an invalid contract range "${range}"`);
  if (!semver.satisfies(CONTRACT_VERSION, range, { includePrerelease: true })) {
    throw new Error(`manager "${manager.name}" needs contract ${range}, this agent provides ${CONTRACT_VERSION}`);
  }
}
