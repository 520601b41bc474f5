/**
 * `ramdisk-agent <command> --help` prints that command's usage and exits 0, as the top-level
 * help promises, and never does the command's work: `demo --help` used to start the demo
 * (loop devices, an agent, a conductor), `plugin new --help` printed its usage on stderr and
 * exited 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/standalone-agent-process.js';

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli.ts'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

describe('subcommand help', () => {
  it('demo --help prints the usage and exits 0 without starting the demo; an unknown option exits 2', () => {
    const help = cli(['demo', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ramdisk-agent demo\n/);
    expect(help.stdout).toMatch(/Takes no options\.\n$/);
    const typo = cli(['demo', '--hepl']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/^unknown option --hepl\n\nUsage: ramdisk-agent demo/);
    expect(typo.stdout).toBe('');
  });

  it('plugin new --help prints the usage on stdout, exits 0 and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-plugin-help-'));
    try {
      for (const args of [
        ['plugin', '--help'],
        ['plugin', 'new', '--help', '--dir', join(dir, 'acme-hardware-manager')],
        ['plugin', 'new', 'acme-hardware-manager', '-h', '--dir', join(dir, 'acme-hardware-manager')],
      ]) {
        const result = cli(args);
        expect(result.status, args.join(' ')).toBe(0);
        expect(result.stdout).toMatch(/^Usage: ramdisk-agent plugin new NAME/);
        expect(existsSync(join(dir, 'acme-hardware-manager'))).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
