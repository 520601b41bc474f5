/**
 * The package `ramdisk-agent plugin new` writes ships every compiled module of the plugin:
 * the guide's own plugin is four files (src/index.ts importing ./firmware.js, ./bios.js,
 * ./erase.js), and a tarball holding only dist/index.js installs fine and then fails to load
 * in the ramdisk ("Cannot find module .../dist/firmware.js") while `npm test`, run from the
 * source folder, passes. Checked with `npm pack --dry-run` (no registry involved).
 *
 * And a package name npm allows but a step name may not start with (`3par-hw`) scaffolds a
 * plugin that builds and loads: its manager and step names are derived identifiers
 * (`vendor_3par_hw_...`); before, its step was named `3par_hw_update_firmware`, which
 * defineStep refuses, so the scaffolded plugin failed to load.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parsePluginArgs, PluginUsageError, writePluginPackage } from '../../src/cli/plugin-new.js';
import { spawnAgentProcess, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';
import { freePort } from '../interop/harness/free-port.js';

let scratch: string;
let child: ChildProcess | undefined;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'plugin-new-pack-'));
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(scratch, { recursive: true, force: true });
});

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

it('a package name starting with a digit scaffolds a plugin whose step loads and runs in an agent', async () => {
  const dir = join(scratch, '3par-hw');
  await writePluginPackage({ name: '3par-hw', dir, agentSpec: '^0.1.0' });
  // What `npm run build` makes of src/index.ts (tsc; the full tsc build of a scaffolded
  // package is test/hardware/out-of-tree-plugin.test.ts), loaded by an agent process: it
  // routes `ramdisk-agent/hardware` to its own contract as it does for an installed plugin.
  const source = readFileSync(join(dir, 'src', 'index.ts'), 'utf8');
  const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node20' });
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'index.js'), code);
  const port = await freePort();
  const args = standaloneAgentArgs({
    dir: scratch,
    port,
    logLevel: 'warn',
    extra: ['--no-shipped-managers', '--hardware-manager-path', dir],
    config: { discover_installed_plugins: false },
  });
  const agent = await spawnAgentProcess(args, port);
  child = agent.child;
  const command = async (name: string, params: Record<string, unknown>) => {
    const response = await fetch(`${agent.url}/v1/commands/?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, params }),
    });
    const body = (await response.json()) as any;
    expect(body.command_status, `${JSON.stringify(body)}\n${agent.output()}`).toBe('SUCCEEDED');
    return body.command_result;
  };
  const listed = await command('clean.get_clean_steps', { node: { uuid: 'n1' }, ports: [] });
  expect(listed.hardware_manager_version).toEqual({ vendor_3par_hw: '1.0' });
  expect(listed.clean_steps.vendor_3par_hw.map((s: { step: string }) => s.step)).toEqual(['vendor_3par_hw_update_firmware']);
  const ran = await command('clean.execute_clean_step', {
    node: { uuid: 'n1' },
    ports: [],
    step: { interface: 'deploy', step: 'vendor_3par_hw_update_firmware', args: { url: 'http://127.0.0.1/fw.bin' } },
    clean_version: listed.hardware_manager_version,
  });
  expect(ran.clean_result).toEqual({ flashed: 'http://127.0.0.1/fw.bin' });
  // The scaffolded test looks for the same names.
  expect(readFileSync(join(dir, 'src', 'test', 'manager.test.ts'), 'utf8')).toContain("steps['vendor_3par_hw']");
}, 120_000);

it('refuses, before writing anything, names npm refuses for a new package', () => {
  for (const [name, reason] of [
    ['http', /Node core module/],
    ['a'.repeat(215), /214 characters at most/],
    ['_private', /not a valid npm package name/],
    ['Acme', /not a valid npm package name/],
  ] as const) {
    expect(() => parsePluginArgs(['new', name, '--dir', join(scratch, 'refused')])).toThrow(PluginUsageError);
    expect(() => parsePluginArgs(['new', name, '--dir', join(scratch, 'refused')])).toThrow(reason);
  }
});
