// Packs what a hardware vendor depends on: `npm run pack [-- --out DIR]` builds the agent
// (scripts/build.mjs), the contract and test kit as ESM (dist/contract/) with type declarations
// (dist/types/), and packs them with the agent itself into DIR/ramdisk-agent-<version>.tgz
// (default: the repository root). The build happens in a staging folder, never in dist/.
//
// The packed package.json carries no dependency but zod: everything else is bundled. The
// repository's own package.json cannot be packed as it is: its native SQLite binding (for the
// conductor) would make a vendor's `npm install` compile C++.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const outIndex = process.argv.indexOf('--out');
const out = resolve(outIndex > 0 ? process.argv[outIndex + 1] : root);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Everything is built in a staging folder: the repository's dist/ is left as it is.
const stage = mkdtempSync(join(tmpdir(), 'ramdisk-agent-pack-'));
try {
  const dist = join(stage, 'dist');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--out', dist], { stdio: 'inherit' });

  // One build for both entries, so the test kit and the contract share one copy of the code.
  await build({
    entryPoints: { hardware: join(root, 'src/hardware/index.ts'), testing: join(root, 'src/testing/index.ts') },
    outdir: join(dist, 'contract'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    external: ['zod', 'better-sqlite3'],
    logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  });
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.types.json'),
      '--outDir',
      join(dist, 'types'),
    ],
    { stdio: 'inherit' },
  );

  for (const path of ['bin', 'README.md', 'docs/writing-a-hardware-manager.md'].filter((p) => existsSync(join(root, p)))) {
    cpSync(join(root, path), join(stage, path), { recursive: true });
  }
  const packed = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    type: 'module',
    license: pkg.license,
    engines: pkg.engines,
    bin: pkg.bin,
    exports: pkg.exports,
    dependencies: { zod: pkg.dependencies.zod },
  };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(packed, null, 2)}\n`);
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: stage, encoding: 'utf8' }).trim();
  console.log(join(out, name.split('\n').at(-1)));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
