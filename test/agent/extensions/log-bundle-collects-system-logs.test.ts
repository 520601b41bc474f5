/**
 * log.collect_system_logs: a base64 tar.gz that GNU tar reads, with what an operator needs
 * after a failed clean: the journal (or /var/log), the agent's own log, its configuration
 * without the token, IPA's command outputs, udev properties and the inventory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../../src/agent/agent.js';
import { mergeConfig } from '../../../src/agent/config/load.js';
import { collectSystemLogs } from '../../../src/agent/logs/collect-system-logs.js';
import { tar } from '../../../src/agent/logs/tar-writer.js';
import { hasCommand } from '../../../src/hardware/exec.js';
import { AgentTestClient, FIXTURE_MANAGERS } from '../../helpers/agent.js';

const TOKEN = 'log-test-token-0123456789abcdef0123456789';
let agent: RunningAgent;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-logs-'));
  const config = mergeConfig({
    flags: {
      standalone: true,
      agentToken: TOKEN,
      listenHost: '127.0.0.1',
      listenPort: 0,
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
    },
  });
  // Log at info into nothing: the agent's own log buffer still gets every line.
  const discard = new Writable({ write: (_c, _e, cb) => cb() });
  agent = await startAgent({ config, logger: { level: 'info', stream: discard } as never });
});

afterAll(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('log.collect_system_logs', () => {
  it('returns a tar.gz bundle with the journal or /var/log, the agent log and the diagnostics', async () => {
    const client = new AgentTestClient(agent.url, TOKEN);
    // Something worth finding in the log: a failed step.
    const failed = await client.post('clean.execute_clean_step', {
      node: { uuid: 'n1' },
      ports: [],
      step: { step: 'fixture_unexpected_error', interface: 'deploy' },
    });
    await client.waitFor(failed.body.id);
    // What ps and dmesg show in a ramdisk: the agent's command line and the kernel's.
    agent.services.log.info(`ps: node ramdisk-agent.mjs agent --agent-token ${TOKEN}`);
    agent.services.log.info('dmesg: Command line: ipa-api-url=http://10.0.0.1:6385 ipa-agent-token=preshared-abcdef0123 nofb');

    const { status, body } = await client.post('log.collect_system_logs', {}, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    const archive = Buffer.from(body.command_result.system_logs, 'base64');
    expect(archive.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    const bundle = join(dir, 'bundle.tar.gz');
    writeFileSync(bundle, archive);

    const names = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).trim().split('\n');
    for (const name of [
      'ramdisk-agent.log',
      'ramdisk-agent-config.json',
      'df',
      'dmesg',
      'ip_addr',
      'ip_route',
      'lsblk',
      'lsblk-full',
      'mount',
      'ps',
      'parted',
      'mdstat',
      'inventory.json',
    ]) {
      expect(names).toContain(name);
    }
    expect(names.includes('journal') || names.some((n) => n.startsWith('var/log/'))).toBe(true);
    if (await hasCommand('udevadm')) expect(names.some((n) => n.startsWith('udev/'))).toBe(true);

    const out = join(dir, 'x');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    const agentLog = readFileSync(join(out, 'ramdisk-agent.log'), 'utf8');
    expect(agentLog).toContain('agent API listening');
    expect(agentLog).toContain('disk went away'); // the failed step's error
    expect(agentLog).not.toContain(TOKEN);
    expect(agentLog).not.toContain('preshared-abcdef0123');
    expect(agentLog).toContain('ipa-agent-token=*** nofb');
    const config = JSON.parse(readFileSync(join(out, 'ramdisk-agent-config.json'), 'utf8'));
    expect(config.agentToken).toBe('***');
    expect(readFileSync(join(out, 'ip_addr'), 'utf8')).toContain('127.0.0.1');
    expect(JSON.parse(readFileSync(join(out, 'inventory.json'), 'utf8'))).toHaveProperty('interfaces');
    if (!(await hasCommand('lshw'))) {
      expect(readFileSync(join(out, 'lshw'), 'utf8')).toMatch(/^Failed to get output from "lshw -quiet -json": .*not installed/);
    }
  });
});

describe('tar writer', () => {
  it('writes long names with the ustar prefix and binary data that GNU tar extracts unchanged', () => {
    const name = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.bin`;
    const data = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const file = join(dir, 'long.tar');
    writeFileSync(
      file,
      tar([
        { name, data },
        { name: 'empty', data: '' },
      ]),
    );
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')).toEqual([name, 'empty']);
    const out = join(dir, 'long');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', file, '-C', out]);
    expect(readFileSync(join(out, name))).toEqual(data);
    expect(existsSync(join(out, 'empty'))).toBe(true);
  });
});

describe('log bundle with /var/log names ustar cannot hold', () => {
  // A 150-byte file name (ustar's name field holds 100, and a name cannot be split) and a
  // 300-byte path (prefix 155 + name 100 at most): both kept, as IPA's tarfile (PAX) keeps them.
  const longName = `${'n'.repeat(146)}.log`;
  const deepDir = ['journal-export', 'a'.repeat(90), 'b'.repeat(90), 'c'.repeat(60)].join('/');
  const files: Record<string, Buffer> = {
    'short.log': Buffer.from('short\n'),
    [longName]: Buffer.from('a long file name\n'),
    [`${deepDir}/deep.log`]: Buffer.from([0, 1, 2, 255, 10]),
    'ünïcödé/ñame.log': Buffer.from('utf-8 name\n'),
  };

  it('lists and extracts every file with its full name (GNU tar, Python tarfile, busybox tar)', async () => {
    const root = join(dir, 'var-log-root');
    for (const [name, data] of Object.entries(files)) {
      execFileSync('mkdir', ['-p', join(root, name, '..')]);
      writeFileSync(join(root, name), data);
    }
    const { archive } = await collectSystemLogs(agent.services, async () => ({}), { varLogRoot: root });
    const bundle = join(dir, 'long-names.tar.gz');
    writeFileSync(bundle, archive);
    const expected = Object.keys(files).map((n) => `var/log/${n}`);

    const listed = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(expect.arrayContaining(expected));
    expect(listed.filter((n) => n.startsWith('var/log/')).sort()).toEqual([...expected].sort());
    const out = join(dir, 'long-names');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    for (const [name, data] of Object.entries(files)) expect(readFileSync(join(out, 'var/log', name))).toEqual(data);

    const python = execFileSync(
      'python3',
      ['-c', 'import sys, tarfile; print("\\n".join(tarfile.open(sys.argv[1]).getnames()))', bundle],
      { encoding: 'utf8' },
    );
    expect(python.trim().split('\n')).toEqual(expect.arrayContaining(expected));
    if (await hasCommand('busybox')) {
      const busybox = execFileSync('busybox', ['tar', '-tzf', bundle], { encoding: 'utf8' });
      expect(busybox.trim().split('\n')).toEqual(expect.arrayContaining(expected));
    }
  });
});
