/**
 * Where a plugin's code starts, and how to read its package.json. A plugin is a folder with a
 * package.json (`main`, or the `ramdisk-agent.hardwareManagers` list for several entry files)
 * or an `index.mjs` / `index.js`. Plugins run as JavaScript: a TypeScript entry is refused with
 * a message saying to compile it, since Node 20 cannot load it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The keyword an npm package carries to be found among installed packages (Homebridge's way). */
export const PLUGIN_KEYWORD = 'ramdisk-agent-plugin';
const ENTRY_CANDIDATES = ['index.mjs', 'index.js', 'index.ts'];

export interface PluginPackageJson {
  name?: string;
  main?: string;
  keywords?: string[];
  'ramdisk-agent'?: { hardwareManagers?: string[] };
  [key: string]: unknown;
}

export async function readPackageJson(folder: string): Promise<PluginPackageJson | undefined> {
  let text: string;
  try {
    text = await readFile(join(folder, 'package.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as PluginPackageJson;
  } catch (error) {
    throw new Error(`invalid ${join(folder, 'package.json')}: ${(error as Error).message}`);
  }
}

const isFile = (path: string) =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  );

/** The plugin's entry files; empty when the folder is not a plugin. */
export async function findEntries(folder: string): Promise<string[]> {
  const pkg = await readPackageJson(folder);
  const listed = pkg?.['ramdisk-agent']?.hardwareManagers;
  if (listed !== undefined) {
    if (!Array.isArray(listed) || listed.some((e) => typeof e !== 'string')) {
      throw new Error(`package.json "ramdisk-agent.hardwareManagers" must be a list of file paths`);
    }
    return listed.map((entry) => join(folder, entry));
  }
  if (typeof pkg?.main === 'string') return [join(folder, pkg.main)];
  for (const candidate of ENTRY_CANDIDATES) {
    const path = join(folder, candidate);
    if (await isFile(path)) return [path];
  }
  return [];
}

export const ENTRY_HINT = `package.json "main" or "ramdisk-agent.hardwareManagers", or one of ${ENTRY_CANDIDATES.join(', ')}`;

/**
 * An import failure as the plugin author needs it: the file and line of a syntax error, and
 * what to do about a TypeScript entry.
 */
export function describeImportFailure(entry: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(entry)) {
    return `${entry} is TypeScript, which Node ${process.versions.node} cannot load: compile the plugin (tsc) and point package.json "main" at the .js output`;
  }
  if (error instanceof SyntaxError) {
    // V8 puts the location on the first stack line (`file:///x/index.js:12`) for module parse errors.
    const location = (error.stack ?? '').split('\n').find((line) => /:\d+/.test(line) && line.includes('/'));
    const where = location
      ?.trim()
      .replace(/^at\s+/, '')
      .replace(/^file:\/\//, '');
    return `syntax error in ${where ?? entry}: ${error.message}`;
  }
  // The contract's own checks (defineStep, defineHardwareManager) already name the author's line.
  if (error instanceof TypeError && /\((?:\/|file:).*:\d+:\d+\)/.test(error.message)) return error.message;
  if (error instanceof Error) {
    const frame = (error.stack ?? '').split('\n').find((line) => /\bat\b.*(file:\/\/|\/).*:\d+:\d+/.test(line));
    const where = frame
      ?.trim()
      .replace(/^at\s+(.*\()?/, '')
      .replace(/\)$/, '')
      .replace(/^file:\/\//, '');
    return `${entry} failed to load: ${error.name}: ${error.message}${where ? ` (at ${where})` : ''}`;
  }
  return `${entry} failed to load: ${String(error)}`;
}

/** More JavaScript files than a plugin of its own has: past this, assume it names the contract. */
const MAX_SCANNED_FILES = 200;

/**
 * Whether any of the plugin's own JavaScript files (not its node_modules) contains `specifier`,
 * i.e. may import the contract by name. Read rather than guessed from package.json: a plain
 * folder plugin (an `index.mjs`, no package.json) imports it too. A few small files, read
 * only for plugins whose package.json does not already say so.
 */
export async function namesSpecifier(folder: string, specifier: string): Promise<boolean> {
  const pending = [folder];
  let files = 0;
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (/\.[cm]?js$/.test(entry.name)) {
        if (++files > MAX_SCANNED_FILES) return true;
        if ((await readFile(path, 'utf8').catch(() => '')).includes(specifier)) return true;
      }
    }
  }
  return false;
}
