// What the agent bundle compiles before its API first answers (a standalone agent answers
// before it loads its commands and managers: src/agent/agent.ts), and the build's guard on it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * `zod/mini` without the rest of zod, for the agent's configuration (validated before the API
 * first answers; src/agent/config/schema.ts). Both `zod/mini` and zod's core index re-export
 * everything: the locales (~300 KB), JSON Schema, the compiler. esbuild assigns whole files to
 * chunks, so a file the start-up path merely imports lands in a start-up chunk even if only
 * the lazily loaded code (commands, managers: classic zod) uses it: with them, compiling and
 * evaluating zod there cost ~19 ms of CPU, with this ~6 ms. Here `zod/mini` and mini's imports
 * of the core index resolve to indexes of the same files minus those re-exports; the files
 * themselves are shared with classic zod (one copy of each class and of the global config).
 */
const zodDir = dirname(createRequire(import.meta.url).resolve('zod/package.json'));
const ZOD_NOT_ON_START_PATH = /locales|json-schema|compile\.js/;
export const slimZodMini = {
  name: 'slim-zod-mini',
  setup(b) {
    const miniDir = join(zodDir, 'v4', 'mini');
    const coreDir = join(zodDir, 'v4', 'core');
    b.onResolve({ filter: /^zod\/mini$/ }, () => ({ path: 'mini', namespace: 'slim-zod' }));
    b.onResolve({ filter: /^\.\.\/core\/index\.js$/ }, (args) =>
      args.namespace === 'slim-zod' || args.importer.startsWith(`${miniDir}/`)
        ? { path: 'core', namespace: 'slim-zod' }
        : undefined,
    );
    b.onLoad({ filter: /^mini$/, namespace: 'slim-zod' }, () => ({
      loader: 'js',
      resolveDir: miniDir,
      // What mini's external.js exports, less the core, locales, iso/coerce and JSON Schema.
      contents: `export * from './schemas.js';
export * from './checks.js';
export * from './parse.js';
export { config } from '../core/index.js';`,
    }));
    b.onLoad({ filter: /^core$/, namespace: 'slim-zod' }, () => ({
      loader: 'js',
      resolveDir: coreDir,
      contents: readFileSync(join(coreDir, 'index.js'), 'utf8')
        .split('\n')
        .filter((line) => !ZOD_NOT_ON_START_PATH.test(line))
        .join('\n'),
    }));
  },
};

/**
 * Code that must not be compiled before the first answer: zod's classic API and its locales
 * (use `zod/mini`, or import lazily), the commands and the manager loader (loaded on the first
 * command or shortly after the API is up), the process runner and the certificate library.
 * One static import from a start-up module would bring any of them back unnoticed.
 */
const NOT_ON_START_PATH = [
  /node_modules\/zod\/v4\/classic\//,
  /node_modules\/zod\/v4\/locales\/(?!en\.js$)/,
  /^src\/agent\/extensions\//,
  /^src\/agent\/hardware-start\.ts$/,
  /^src\/hardware\/loader\.ts$/,
  /node_modules\/execa\//,
  /node_modules\/@peculiar\//,
];

/** The entry's output and every output it imports statically, directly or not. */
function startOutputs(metafile, entryOutput) {
  const found = new Set();
  const queue = [entryOutput];
  while (queue.length > 0) {
    const output = queue.pop();
    if (found.has(output)) continue;
    found.add(output);
    for (const i of metafile.outputs[output].imports) {
      if (i.kind === 'import-statement' && metafile.outputs[i.path]) queue.push(i.path);
    }
  }
  return found;
}

/** Throws when an output the entry imports statically holds an input of NOT_ON_START_PATH. */
export function checkStartPath(metafile, entryOutput) {
  const { outputs, inputs } = metafile;
  const onStartPath = new Set([...startOutputs(metafile, entryOutput)].flatMap((o) => Object.keys(outputs[o].inputs)));
  const forbidden = [...onStartPath].filter((input) => NOT_ON_START_PATH.some((re) => re.test(input)));
  if (forbidden.length === 0) return;
  // Name our modules that import them (directly or through a package's index): the place to
  // make an import lazy.
  const reaches = (input, seen = new Set()) =>
    (inputs[input]?.imports ?? [])
      .filter((i) => i.kind !== 'dynamic-import')
      .some(
        (i) =>
          forbidden.includes(i.path) ||
          (!i.path.startsWith('src/') && !seen.has(i.path) && (seen.add(i.path), reaches(i.path, seen))),
      );
  const importers = [...onStartPath].filter((input) => input.startsWith('src/') && !forbidden.includes(input) && reaches(input));
  throw new Error(
    `the agent's start-up chunks hold code meant to load later: ${forbidden.slice(0, 5).join(', ')}` +
      `${forbidden.length > 5 ? ` (+${forbidden.length - 5} more)` : ''}; imported by ${importers.join(', ') || '(see the metafile)'}`,
  );
}

/**
 * The files the start-up chunks hold (not the entry's own output): what `oneStartChunk` pulls
 * into one chunk. Node's built-ins by their name; other virtual inputs (a plugin's namespace)
 * and JSON are reached through their importers.
 */
export function startChunkFiles(metafile, entryOutput) {
  const files = new Set();
  for (const output of startOutputs(metafile, entryOutput)) {
    if (output === entryOutput) continue;
    for (const input of Object.keys(metafile.outputs[output].inputs)) {
      if (input.startsWith('builtin-import:')) files.add(input.slice('builtin-import:'.length));
      else if (!/^[\w-]+:/.test(input) && !input.endsWith('.json')) files.add(resolve(input));
    }
  }
  return [...files];
}

/**
 * Makes every module the start-up chunks hold reachable from every dynamically imported
 * module too, so esbuild, which groups modules by the set of entry points that reach them,
 * puts them all in one chunk instead of ~20 small ones: Node 20 pays ~0.4 ms of CPU per ES
 * module it loads (resolve, read, compile, link; 40 empty modules cost 15 ms here). Each
 * dynamic import goes through a stand-in that re-exports the real target and everything the
 * start-up chunks hold (already evaluated by then: the entry imported them first). Re-exports,
 * not bare imports: esbuild drops a bare import of a package marked free of side effects (zod).
 */
export function oneStartChunk(startFiles) {
  return {
    name: 'one-start-chunk',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData?.lazyEntry || args.path.startsWith('node:')) return undefined;
        const { importer, kind, resolveDir } = args;
        const target = await b.resolve(args.path, { importer, kind, resolveDir, pluginData: { lazyEntry: true } });
        if (target.errors.length > 0 || target.external || target.namespace !== 'file') return undefined;
        return { path: target.path, namespace: 'lazy-entry' };
      });
      b.onResolve({ filter: /^start-chunk-modules$/ }, () => ({ path: 'start', namespace: 'start-chunk-modules' }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-entry' }, (args) => ({
        loader: 'js',
        resolveDir: dirname(args.path),
        contents: `import 'start-chunk-modules';\nexport * from ${JSON.stringify(args.path)};`,
      }));
      b.onLoad({ filter: /.*/, namespace: 'start-chunk-modules' }, () => ({
        loader: 'js',
        resolveDir: process.cwd(),
        contents: startFiles.map((file) => `export * from ${JSON.stringify(file)};`).join('\n'),
      }));
    },
  };
}

/** Throws when start-up loads more than the entry and one chunk (a change esbuild made unnoticed). */
export function checkOneStartChunk(metafile, entryOutput) {
  const chunks = [...startOutputs(metafile, entryOutput)].filter((o) => o !== entryOutput);
  if (chunks.length > 1) throw new Error(`start-up loads ${chunks.length} chunks, not one: ${chunks.join(', ')}`);
}
