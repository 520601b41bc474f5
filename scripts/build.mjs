// Bundles the agent into one ESM file (dist/ramdisk-agent.mjs) and every shipped hardware
// manager into dist/hardware-managers/<name>/index.mjs, so the ramdisk needs only `node`
// plus dist/. Type checking is `tsc --noEmit` (make typecheck); esbuild only strips types.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { checkOneStartChunk, checkStartPath, oneStartChunk, slimZodMini, startChunkFiles } from './start-path.mjs';

const requireBuiltin = createRequire(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
// `--out DIR`: build there instead of dist/ (npm run pack builds into its staging folder, so
// packing never replaces the dist/ that a running demo or test is using).
const outIndex = process.argv.indexOf('--out');
const dist = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, 'dist');
// dist/image (make image) is built from this bundle but is not part of it: keep it.
for (const entry of existsSync(dist) ? readdirSync(dist) : []) {
  if (entry !== 'image') rmSync(join(dist, entry), { recursive: true, force: true });
}

/**
 * Modules that a dependency requires when it loads but uses only on paths the agent never
 * takes at start-up: fastify's HTTPS and HTTP/2 servers (the agent's API is HTTP until
 * auto-TLS), its plugin version check (semver: the agent registers no versioned plugin),
 * pino's file destination (sonic-boom, which loads node:assert; the agent gives pino its own
 * stream) and its worker transport (thread-stream). Each becomes an object (a class: a
 * constructor) that requires the module on first use, so start-up does not load and compile
 * node:http2, node:https (and tls with it), semver, sonic-boom and thread-stream.
 */
const LAZY_REQUIRES = [
  { importer: /node_modules\/fastify\/lib\/server\.js$/, modules: ['node:https', 'node:http2'] },
  { importer: /node_modules\/fastify\/lib\/plugin-utils\.js$/, modules: ['semver'] },
  { importer: /node_modules\/pino\/lib\/tools\.js$/, modules: ['sonic-boom'], isClass: true },
  { importer: /node_modules\/pino\/lib\/transport\.js$/, modules: ['thread-stream'], isClass: true },
];
// An object standing for the one `target` evaluates to (a call of `load()`), which it reads
// on first use; its methods are bound to that object, as a call through it would have them.
const lazyObject = (target) => `new Proxy({}, {
  get: (_, key) => {
    const target = ${target};
    const value = target[key];
    return typeof value === 'function' ? value.bind(target) : value;
  },
  has: (_, key) => key in ${target},
  ownKeys: () => Reflect.ownKeys(${target}),
  getOwnPropertyDescriptor: (_, key) => ({ ...Object.getOwnPropertyDescriptor(${target}, key), configurable: true }),
})`;
const lazyLoad = (path) => `let loaded;
const load = () => (loaded ??= require(${JSON.stringify(path)}));`;
const lazyModule = (path) => `${lazyLoad(path)}
module.exports = ${lazyObject('load()')};`;
// `x instanceof Class` is false without loading it: nothing can be an instance of a class
// that was never loaded (only the importer above reaches this copy of it).
const lazyClass = (path) => `${lazyLoad(path)}
module.exports = new Proxy(function () {}, {
  construct: (_, args) => Reflect.construct(load(), args),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  get: (_, key) => (key === Symbol.hasInstance ? (value) => loaded !== undefined && value instanceof loaded : load()[key]),
});`;
const lazyRequires = {
  name: 'lazy-requires',
  setup(b) {
    const names = [...new Set(LAZY_REQUIRES.flatMap((l) => l.modules))];
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => {
      const lazy = LAZY_REQUIRES.find((l) => l.importer.test(args.importer) && l.modules.includes(args.path));
      return lazy
        ? { path: args.path, namespace: 'lazy-require', pluginData: { resolveDir: args.resolveDir, isClass: lazy.isClass === true } }
        : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-require' }, (args) => ({
      loader: 'js',
      resolveDir: args.pluginData.resolveDir,
      contents: args.pluginData.isClass ? lazyClass(args.path) : lazyModule(args.path),
    }));
  },
};

/**
 * Node's built-in modules are taken with require(), not an ESM import: importing one as ESM
 * makes Node read every export to build the module's namespace, which runs the lazy getters
 * CommonJS callers never touch (node:fs loads its streams, node:crypto its webcrypto,
 * node:util its MIME parser) before the agent has done anything.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin-import' } : undefined,
    );
    b.onResolve({ filter: /^builtin-require:/ }, (args) => ({
      path: args.path.slice('builtin-require:'.length),
      namespace: 'builtin-require',
    }));
    // An ES module stand-in exporting each name the built-in has (unused ones are dropped):
    // importing the CommonJS one directly made esbuild copy the whole built-in into a new
    // object of getters in every importing file (~4,000 getters once the managers ran). Lazy
    // exports (fs.promises, crypto.webcrypto, util.parseArgs) are re-exported from the
    // CommonJS stand-in, so they are still read on use, not when the stand-in loads.
    b.onLoad({ filter: /.*/, namespace: 'builtin-import' }, (args) => {
      if (LAZY_BUILTINS.has(args.path)) return { loader: 'js', contents: lazyBuiltin(args.path) };
      const builtin = requireBuiltin(args.path);
      const from = JSON.stringify(`builtin-require:${args.path}`);
      const lines = [`const m = require(${JSON.stringify(args.path)});`, 'const read = (name) => m[name];', 'export default m;'];
      const lazy = [];
      Object.entries(Object.getOwnPropertyDescriptors(builtin)).forEach(([name, descriptor], i) => {
        if (!/^[A-Za-z_$][\w$]*$/.test(name) || name === 'default') return;
        if ('value' in descriptor)
          lines.push(`const $${i} = /* @__PURE__ */ read(${JSON.stringify(name)});`, `export { $${i} as ${name} };`);
        else lazy.push(name);
      });
      // One statement: esbuild makes one getter copy of the CommonJS stand-in per statement.
      if (lazy.length > 0) lines.push(`export { ${lazy.join(', ')} } from ${from};`);
      return { loader: 'js', contents: lines.join('\n') };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      loader: 'js',
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
    }));
  },
};

/**
 * Built-ins the API's first answer never needs, though modules on the start-up path import
 * them for later work: each function they export becomes a forwarder and each object a
 * stand-in, which load the built-in on first use. Reading an export when the start-up chunk
 * loads would load it anyway: that chunk re-exports everything in it (start-path.mjs).
 */
const LAZY_BUILTINS = new Set(['node:fs/promises', 'node:timers/promises']);
function lazyBuiltin(path) {
  const lines = [lazyLoad(path), `export default ${lazyObject('load()')};`];
  for (const [name, value] of Object.entries(requireBuiltin(path))) {
    if (!/^[a-z][\w$]*$/.test(name)) continue;
    if (typeof value === 'function')
      lines.push(`export function ${name}(...args) { return load().${name}.apply(this, args); }`);
    else if (typeof value === 'object' && value !== null)
      lines.push(`export const ${name} = ${lazyObject(`load().${name}`)};`);
  }
  return lines.join('\n');
}

const common = {
  plugins: [builtinsByRequire, lazyRequires],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  minify: true,
  // No keepNames: IPA error types are declared as data (src/hardware/errors.ts, pinned by a
  // test against a build without it), and keepNames wrapped every closure created per request
  // (fastify's hooks, the runner) in a defineProperty call: ~3 KB of garbage a request.
  logLevel: 'warning',
  // fastify's CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
};

// Code splitting: modules imported dynamically (execa, TLS certificate code, ...) become
// chunks loaded on first use, so start-up parses only what serving the API needs. Built
// twice: the first build names the modules start-up loads, the second puts them in one chunk.
const agentOptions = {
  ...common,
  plugins: [...common.plugins, slimZodMini],
  entryPoints: { 'ramdisk-agent': join(root, 'src/cli.ts') },
  // The conductor's SQLite binding is a native addon: loaded from node_modules at run time
  // (only by `conductor` and `demo`; the ramdisk never loads it).
  external: ['better-sqlite3'],
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
};
const entryOutputOf = (metafile) => Object.keys(metafile.outputs).find((o) => o.endsWith('/ramdisk-agent.mjs'));
const firstPass = await build({ ...agentOptions, write: false });
const startFiles = startChunkFiles(firstPass.metafile, entryOutputOf(firstPass.metafile));
const agentBuild = await build({ ...agentOptions, plugins: [...agentOptions.plugins, oneStartChunk(startFiles)] });
checkStartPath(agentBuild.metafile, entryOutputOf(agentBuild.metafile));
checkOneStartChunk(agentBuild.metafile, entryOutputOf(agentBuild.metafile));
// A name the slim zod indexes lack would only be a warning ("will always be undefined") and
// the agent would fail when the config schema is built: stop the build instead.
const zodWarnings = agentBuild.warnings.filter((w) => /zod/.test(`${w.text} ${w.location?.file ?? ''}`));
if (zodWarnings.length > 0) throw new Error(`zod bundling: ${zodWarnings.map((w) => w.text).join('; ')}`);

// Plugins read the contract and zod from the agent at run time (src/hardware/host-modules.ts)
// instead of bundling their own copies. The stand-in is an ES module exporting each name: a
// CommonJS one made esbuild copy the whole module into a new object of getters in every file
// that imports it (~6,000 getters, ~1.5 MB of heap across the shipped managers); unused names
// are dropped from each manager's bundle.
const hostContract = join(root, 'src', 'hardware', 'index.ts');
const contractBuild = await build({
  ...common,
  plugins: [builtinsByRequire],
  entryPoints: [hostContract],
  write: false,
  metafile: true,
  outdir: dist,
});
const hostExports = {
  hardware: Object.values(contractBuild.metafile.outputs).flatMap((o) => o.exports),
  zod: Object.keys(await import('zod')),
};
const useHostModules = {
  name: 'use-host-modules',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, () => ({ path: 'zod', namespace: 'host-module' }));
    b.onResolve({ filter: /src\/hardware\/index(\.js|\.ts)?$/ }, (args) => {
      const resolved = join(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      return resolved === hostContract ? { path: 'hardware', namespace: 'host-module' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'host-module' }, (args) => ({
      loader: 'js',
      contents: `const host = globalThis[Symbol.for('ramdisk-agent.host-modules')];
if (!host) throw new Error('this hardware manager must be loaded by ramdisk-agent');
const read = (name) => host[${JSON.stringify(args.path)}][name];
${hostExports[args.path]
  .map((name, i) => `const $${i} = /* @__PURE__ */ read(${JSON.stringify(name)});\nexport { $${i} as ${name} };`)
  .join('\n')}`,
    }));
  },
};

const managersDir = join(root, 'hardware-managers');
for (const name of readdirSync(managersDir)) {
  const dir = join(managersDir, name);
  if (!statSync(dir).isDirectory()) continue;
  const entry = ['index.ts', 'index.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!entry) continue;
  await build({
    ...common,
    entryPoints: [entry],
    outfile: join(dist, 'hardware-managers', name, 'index.mjs'),
    plugins: [builtinsByRequire, lazyRequires, useHostModules],
  });
}
console.log(`built ${dist}`);
