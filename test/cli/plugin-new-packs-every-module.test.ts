/**
 * The package `ramdisk-agent plugin new` writes ships every compiled module of the plugin:
 * the guide's own plugin is four files (src/index.ts importing ./firmware.js, ./bios.js,
 * ./erase.js), and a tarball holding only dist/index.js installs fine and then fails to load
 * in the ramdisk ("Cannot find module .../dist/firmware.js") while `npm test`, run from the
 * source folder, passes. Checked with `npm pack --dry-run` (no registry involved).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writePluginPackage } from '../../src/cli/plugin-new.js';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'plugin-new-pack-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('npm pack of the scaffolded package includes every module under dist/, not its compiled tests', async () => {
  const dir = join(scratch, 'acme-hardware-manager');
  await writePluginPackage({ name: 'acme-hardware-manager', dir, agentSpec: '^0.1.0' });
  // What `npm run build` (tsc) makes of the guide's plugin and the scaffolded test.
  mkdirSync(join(dir, 'dist', 'test'), { recursive: true });
  for (const file of ['index.js', 'firmware.js', 'bios.js', 'erase.js', 'index.d.ts', 'test/manager.test.js']) {
    writeFileSync(join(dir, 'dist', file), '// compiled\n');
  }
  const npm = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  expect(npm.status, npm.stderr).toBe(0);
  const [packed] = JSON.parse(npm.stdout) as { files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path).sort();
  expect(files).toEqual([
    'dist/bios.js',
    'dist/erase.js',
    'dist/firmware.js',
    'dist/index.d.ts',
    'dist/index.js',
    'package.json',
  ]);
});
