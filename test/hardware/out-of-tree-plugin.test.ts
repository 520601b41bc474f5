/**
 * A vendor's path from docs/writing-a-hardware-manager.md, in a folder outside the repository:
 * `npm run pack`, `ramdisk-agent plugin new` depending on the packed tarball, `npm install`,
 * the plugin's own `npm test` (tsc against `ramdisk-agent/hardware`, tests written with
 * `ramdisk-agent/testing`), `npm pack` of the plugin; then an agent process started from
 * the installed package finds the plugin (by its npm keyword, and by
 * `--hardware-manager-path`), lists its step in `get_clean_steps` and runs it over HTTP.
 * The guide's own plugin code (its `// src/<file>.ts` blocks) type-checks against the same
 * packed contract.
 *
 * npm installs with --prefer-offline: the plugin's devDependencies are the repository's own
 * pinned versions, normally already in npm's cache.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../interop/harness/free-port.js';

const REPO = join(import.meta.dirname, '..', '..');
const PLUGIN = 'acme-hardware-manager';
const MANAGER = 'acme_hardware_manager';
const STEP = `${MANAGER}_update_firmware`;
const TOKEN = 'out-of-tree-token-0123456789abcdef';

let scratch: string;
const agents: ChildProcess[] = [];

/** Runs a command to its end; fails the test with its output unless it exits 0. */
function run(file: string, args: string[], cwd: string): string {
  const result = spawnSync(file, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, CI: '1' } });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0)
    throw new Error(`${file} ${args.join(' ')} in ${cwd} failed (${result.status ?? result.signal}):\n${output}`);
  return output;
}

async function startAgent(cwd: string, extra: string[]): Promise<string> {
  const port = await freePort();
  writeFileSync(join(scratch, 'cmdline'), '');
  writeFileSync(join(scratch, 'agent.json'), '{}');
  let stderr = '';
  const agent = spawn(
    join(cwd, 'node_modules', '.bin', 'ramdisk-agent'),
    [
      'agent',
      '--standalone',
      '--agent-token',
      TOKEN,
      '--listen',
      `127.0.0.1:${port}`,
      '--power-actions',
      'simulate',
      '--no-shipped-managers',
      '--cmdline',
      join(scratch, 'cmdline'),
      '--config',
      join(scratch, 'agent.json'),
      '--log-level',
      'warn',
      ...extra,
    ],
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  agents.push(agent);
  agent.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}): ${stderr}`);
    if (
      await fetch(`${url}/v1/status`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return url;
    if (Date.now() > deadline) throw new Error(`the agent did not answer within 60 s: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function command(url: string, name: string, params: Record<string, unknown>, wait: boolean): Promise<any> {
  const response = await fetch(`${url}/v1/commands/?agent_token=${TOKEN}${wait ? '&wait=true' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, params }),
  });
  expect(response.status).toBe(200);
  return response.json();
}

/** get_clean_steps, then execute_clean_step polled to its end, as a conductor does. */
async function listAndRun(url: string): Promise<{ listed: any; finished: any }> {
  const node = { uuid: '7d1c0a3e-5a1f-4c55-9f0e-2b3c4d5e6f70', properties: {}, instance_info: {}, driver_info: {} };
  const listed = (await command(url, 'clean.get_clean_steps', { node, ports: [] }, true)).command_result;
  const started = await command(
    url,
    'clean.execute_clean_step',
    {
      node,
      ports: [],
      step: { interface: 'deploy', step: STEP, args: { url: 'http://127.0.0.1/fw.bin' } },
      clean_version: listed.hardware_manager_version,
    },
    false,
  );
  for (;;) {
    const finished = (await (await fetch(`${url}/v1/commands/${started.id}?agent_token=${TOKEN}`)).json()) as any;
    if (finished.command_status !== 'RUNNING') return { listed, finished };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a plugin built outside the repository against the packed agent', () => {
  let tarball: string;
  let pluginDir: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ramdisk-agent-vendor-'));
    tarball = run(process.execPath, [join(REPO, 'scripts', 'pack.mjs'), '--out', scratch], REPO)
      .trim()
      .split('\n')
      .at(-1)!;
    pluginDir = join(scratch, PLUGIN);
    run(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), 'plugin', 'new', PLUGIN, '--dir', pluginDir, '--agent', `file:${tarball}`],
      REPO,
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], pluginDir);
  }, 300_000);

  afterAll(async () => {
    for (const agent of agents) {
      if (agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((resolve) => agent.once('exit', resolve));
        agent.kill('SIGTERM');
        await exited;
      }
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it('type-checks against ramdisk-agent/hardware and passes its own tests written with ramdisk-agent/testing', () => {
    const output = run('npm', ['test'], pluginDir);
    expect(output).toMatch(/^# pass 2$/m);
    expect(output).toMatch(/^# fail 0$/m);
  }, 300_000);

  it("type-checks the guide's plugin code against the packed contract", () => {
    const guide = readFileSync(join(REPO, 'docs', 'writing-a-hardware-manager.md'), 'utf8');
    const files = [...guide.matchAll(/```ts\n\/\/ (src\/[\w-]+\.ts)\n([^]*?)```/g)].map(([, path, code]) => ({
      path: path!,
      code: code!,
    }));
    expect(files.map((f) => f.path).sort()).toEqual(['src/bios.ts', 'src/erase.ts', 'src/firmware.ts', 'src/index.ts']);
    const dir = join(scratch, 'guide-plugin');
    mkdirSync(join(dir, 'src'), { recursive: true });
    copyFileSync(join(pluginDir, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    symlinkSync(join(pluginDir, 'node_modules'), join(dir, 'node_modules'));
    for (const { path, code } of files) writeFileSync(join(dir, path), code);
    run(join(pluginDir, 'node_modules', '.bin', 'tsc'), ['-p', dir, '--noEmit'], dir);
  }, 120_000);

  it('installed with npm beside the agent, is found by its keyword and its step runs over HTTP', async () => {
    const packed = run('npm', ['pack', '--silent', '--pack-destination', scratch], pluginDir).trim().split('\n').at(-1)!;
    const ramdisk = join(scratch, 'ramdisk');
    mkdirSync(ramdisk);
    writeFileSync(join(ramdisk, 'package.json'), '{"private": true}\n');
    run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, join(scratch, packed)],
      ramdisk,
    );

    const url = await startAgent(ramdisk, []);
    const { listed, finished } = await listAndRun(url);
    expect(listed.hardware_manager_version).toEqual({ [MANAGER]: '1.0' });
    expect(listed.clean_steps[MANAGER].map((s: { step: string }) => s.step)).toEqual([STEP]);
    expect(finished.command_status, JSON.stringify(finished.command_error)).toBe('SUCCEEDED');
    expect(finished.command_result.clean_result).toEqual({ flashed: 'http://127.0.0.1/fw.bin' });
  }, 300_000);

  it('is loaded from its folder with --hardware-manager-path by the agent it depends on', async () => {
    const url = await startAgent(pluginDir, ['--hardware-manager-path', pluginDir]);
    const { listed, finished } = await listAndRun(url);
    expect(listed.clean_steps[MANAGER].map((s: { step: string }) => s.step)).toEqual([STEP]);
    expect(finished.command_status, JSON.stringify(finished.command_error)).toBe('SUCCEEDED');
  }, 120_000);
});
