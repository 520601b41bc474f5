/**
 * log.collect_system_logs carries what hardware managers add through IPA's hook
 * (`collect_system_logs`): their entries by name, bytes unchanged, the agent's token masked,
 * and never a name outside the bundle nor one replacing an entry of the agent's. A name past
 * ustar's 100 bytes goes through whole (a PAX header), as IPA's tarfile takes any name; it
 * was left out.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { DEEP_NAME, LONG_NAME, VENDOR_BYTES } from '../../fixtures/log-managers/vendor-logs/index.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../../helpers/agent.js';

const TOKEN = 'log-hook-token-0123456789abcdef';
const LOG_MANAGERS = join(import.meta.dirname, '..', '..', 'fixtures', 'log-managers');
let agent: RunningAgent;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-log-hook-'));
  agent = await startTestAgent({
    agentToken: TOKEN,
    loadShippedManagers: false,
    hardwareManagerPaths: [FIXTURE_MANAGERS, LOG_MANAGERS],
  });
});

afterAll(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("log.collect_system_logs with a manager's collect_system_logs", () => {
  it('puts the entries the manager returns into the bundle, safely', async () => {
    const client = new AgentTestClient(agent.url, TOKEN);
    const { status, body } = await client.post('log.collect_system_logs', {}, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    const bundle = join(dir, 'bundle.tar.gz');
    writeFileSync(bundle, Buffer.from(body.command_result.system_logs, 'base64'));
    const names = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['vendor/raid-events.txt', 'vendor/fw-dump.bin', 'dmesg']));
    expect(names.filter((n) => n.includes('outside'))).toEqual([]);
    expect(names.filter((n) => n === 'dmesg')).toHaveLength(1);

    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    const events = readFileSync(join(out, 'vendor/raid-events.txt'), 'utf8');
    expect(events).toContain('controller 0: battery learn cycle done');
    expect(events).not.toContain(TOKEN);
    expect(readFileSync(join(out, 'vendor/fw-dump.bin'))).toEqual(Buffer.from(VENDOR_BYTES));
    expect(readFileSync(join(out, 'dmesg'), 'utf8')).not.toContain('must not replace');
    expect(existsSync(join(dir, 'outside'))).toBe(false);
  });

  it('keeps names longer than 100 bytes whole, as the system tar reads them (PAX)', async () => {
    expect(Buffer.byteLength(LONG_NAME)).toBeGreaterThan(100);
    expect(Buffer.byteLength(DEEP_NAME)).toBeGreaterThan(100);
    const client = new AgentTestClient(agent.url, TOKEN);
    const { body } = await client.post('log.collect_system_logs', {}, true);
    expect(body.command_status).toBe('SUCCEEDED');
    const bundle = join(dir, 'long-names.tar.gz');
    writeFileSync(bundle, Buffer.from(body.command_result.system_logs, 'base64'));
    const names = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining([LONG_NAME, DEEP_NAME]));
    const out = join(dir, 'long');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    expect(readFileSync(join(out, LONG_NAME), 'utf8')).toBe('enclosure events\n');
    expect(readFileSync(join(out, DEEP_NAME), 'utf8')).toBe('smart data\n');
  });
});
