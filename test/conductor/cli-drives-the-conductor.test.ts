/**
 * `ramdisk-agent conductor …`: the client commands against a real conductor API, and `serve`
 * as a real process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect } from 'vitest';
import { ConductorApiClient, ConductorApiError } from '../../src/conductor/cli/api-client.js';
import { runConductorCommand, UsageError } from '../../src/conductor/cli/conductor-command.js';
import { conductorTest as it } from './conductor-lab.js';
import { hostMacs, type RunningConductor } from './helpers.js';

/** `ramdisk-agent conductor <argv> --url <running's API>`, with its exit code and output. */
const cliAgainst = (running: RunningConductor) =>
  async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const code = await runConductorCommand([...argv, '--url', running.url], sink);
    return { code, out };
  };

describe('conductor client commands', () => {
  it('enrolls, cleans manually with JSON steps (waiting), and shows driver_internal_info', async ({ lab }) => {
    const running = await lab.start();
    const cli = cliAgainst(running);
    const macs = await hostMacs();
    const enrolled = await cli(
      'enroll',
      '--name',
      'cli-node',
      ...macs.flatMap((m) => ['--mac', m]),
      '--deploy-interface',
      'custom-agent',
    );
    expect(enrolled.code).toBe(0);
    const uuid = enrolled.out.trim();
    expect(running.conductor.store.getNode(uuid)).toMatchObject({ name: 'cli-node', provisionState: 'manageable' });

    // The agent boots once cleaning has started (it looks itself up in CLEANWAIT).
    const cleaning = cli('clean', 'cli-node', '--steps', '[{"interface": "deploy", "step": "fixture_quick"}]', '--wait');
    while (running.conductor.store.getNode(uuid).provisionState !== 'clean wait') await new Promise((r) => setTimeout(r, 20));
    await lab.agent();
    const cleaned = await cleaning;
    expect(cleaned.out.split('\n')).toEqual(expect.arrayContaining([`cli-node: manageable`]));
    expect(cleaned.code).toBe(0);

    const shown = await cli('node', 'show', uuid, '-f', 'json', '-c', 'driver_internal_info');
    const parsed = JSON.parse(shown.out) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['driver_internal_info']);
    expect(parsed.driver_internal_info).toMatchObject({ clean_steps: null });

    const listed = await cli('node', 'list');
    expect(listed.out).toMatch(
      new RegExp(
        `^UUID\\s+Name\\s+Provision State\\s+Power State\\s+Maintenance\\n${uuid}\\s+cli-node\\s+manageable\\s+power off\\s+False\\n$`,
      ),
    );
  });

  it('automated cleaning disabled: clean --wait goes to available', async ({ lab }) => {
    const running = await lab.start();
    const cli = cliAgainst(running);
    const { out } = await cli('enroll', '--mac', '52:54:00:aa:bb:cc', '--no-automated-clean');
    const cleaned = await cli('clean', out.trim(), '--wait');
    expect(cleaned.code).toBe(0);
    expect(running.conductor.store.getNode(out.trim()).provisionState).toBe('available');
  });

  it('reports bad usage and the conductor’s refusals in plain words', async ({ lab }) => {
    const running = await lab.start();
    const cli = cliAgainst(running);
    const { out } = await cli('enroll', '--mac', '52:54:00:aa:bb:cd');
    const uuid = out.trim();
    await expect(cli('clean', uuid, '--steps', '{not json')).rejects.toBeInstanceOf(UsageError);
    await expect(cli('deploy', uuid)).rejects.toThrow('deploy needs --image URL');
    await expect(cli('deploy', uuid, '--image', 'http://x/i', '--os-hash', 'sha256')).rejects.toThrow(
      '--os-hash expects ALGO:HEX',
    );
    const abort = await cli('abort', uuid).catch((e: unknown) => e);
    expect(abort).toBeInstanceOf(ConductorApiError);
    expect((abort as ConductorApiError).status).toBe(400);
    expect((abort as Error).message).toBe(
      `The requested action "abort" can not be performed on node "${uuid}" while it is in state "manageable".`,
    );
    await expect(cli('node', 'show', 'missing')).rejects.toThrow('Node missing could not be found.');
  });

  it('sets and clears target_raid_config as `baremetal node set --target-raid-config` does', async ({ lab }) => {
    const running = await lab.start();
    const cli = cliAgainst(running);
    const uuid = (await cli('enroll', '--mac', '52:54:00:aa:bb:ce')).out.trim();
    const client = new ConductorApiClient(running.url);
    const config = {
      logical_disks: [
        { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true },
        { size_gb: 'MAX', raid_level: '0', controller: 'software' },
      ],
    };
    await client.request('PUT', `/v1/nodes/${uuid}/states/raid`, config);
    expect((await client.getNode(uuid)).target_raid_config).toEqual(config);
    const two = { logical_disks: [{ ...config.logical_disks[0] }, { ...config.logical_disks[0] }] };
    await expect(client.request('PUT', `/v1/nodes/${uuid}/states/raid`, two)).rejects.toThrow(
      'Raid config cannot have more than one root volume. 2 root volumes were specified',
    );
    await expect(client.request('PUT', `/v1/nodes/${uuid}/states/raid`, { logical_disks: [] })).rejects.toThrow(
      'RAID config validation error',
    );
    expect((await client.getNode(uuid)).target_raid_config).toEqual(config);
    await client.request('PUT', `/v1/nodes/${uuid}/states/raid`, {});
    expect((await client.getNode(uuid)).target_raid_config).toEqual({});
  });
});

describe('conductor serve', () => {
  // Under load (a full test run on two shared cores) tsx compiling the CLI can take tens of
  // seconds: wait for the API by time, and say why it never came rather than only that the
  // process was then killed.
  const API_WAIT_MS = 60_000;

  it('serves the API from a SQLite file until SIGTERM', { timeout: API_WAIT_MS + 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conductor-serve-'));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        'conductor',
        'serve',
        '--listen',
        `127.0.0.1:${port}`,
        '--db',
        join(dir, 'c.sqlite'),
        '--log-level',
        'warn',
      ],
      {
        cwd: join(import.meta.dirname, '..', '..'),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let ended: { code: number | null; signal: string | null };
    try {
      const started = Date.now();
      let nodes: unknown;
      while (nodes === undefined) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`conductor serve exited (${child.exitCode ?? child.signalCode}) before its API answered: ${stderr}`);
        }
        if (Date.now() - started > API_WAIT_MS) {
          throw new Error(`conductor serve did not answer on 127.0.0.1:${port} within ${API_WAIT_MS} ms; stderr: ${stderr}`);
        }
        nodes = await fetch(`http://127.0.0.1:${port}/v1/nodes`, { signal: AbortSignal.timeout(5_000) }).then(
          (r) => r.json(),
          () => undefined,
        );
        if (nodes === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(nodes).toEqual({ nodes: [] });
      const version = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { default_version: { version: string } };
      expect(version.default_version.version).toBe('1.82');
    } finally {
      child.kill('SIGTERM');
      ended = await exited;
      rmSync(dir, { recursive: true, force: true });
    }
    // Only reached when the API answered: a clean stop closes the store and exits 0.
    expect(ended, stderr).toEqual({ code: 0, signal: null });
  });
});
