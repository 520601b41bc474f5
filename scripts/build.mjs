// Bundles the agent into one ESM file (dist/ramdisk-agent.mjs) and every shipped hardware
// manager into dist/hardware-managers/<name>/index.mjs, so the ramdisk needs only `node`
// plus dist/. Type checking is `tsc --noEmit` (make typecheck); esbuild only strips types.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  // IPA error types come from class names: keep them through minification.
  keepNames: true,
  logLevel: 'warning',
  // fastify's CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
};

await build({ ...common, entryPoints: [join(root, 'src/cli.ts')], outfile: join(dist, 'ramdisk-agent.mjs') });

const managersDir = join(root, 'hardware-managers');
for (const name of readdirSync(managersDir)) {
  const dir = join(managersDir, name);
  if (!statSync(dir).isDirectory()) continue;
  const entry = ['index.ts', 'index.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!entry) continue;
  await build({ ...common, entryPoints: [entry], outfile: join(dist, 'hardware-managers', name, 'index.mjs') });
}
console.log(`built ${dist}`);
