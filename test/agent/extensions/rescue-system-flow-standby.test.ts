/**
 * The commands that end an agent's life or chain others: rescue.finalize_rescue (password
 * hash, marker, API closed, never served again), system.lockdown (API closed, NICs down
 * recorded but untouched when simulated), standby.run_image/sync with simulated power, and
 * flow.start_flow (sub-commands inline, first failure fails the flow).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../../helpers/agent.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';

const agents: RunningAgent[] = [];
const dirs: string[] = [];
const scratch = new ScratchDevices();

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  scratch.cleanup();
});

async function start(overrides: Parameters<typeof startTestAgent>[0] = {}) {
  const agent = await startTestAgent({
    loadShippedManagers: false,
    hardwareManagerPaths: [FIXTURE_MANAGERS],
    powerActions: 'simulate',
    ...overrides,
  });
  agents.push(agent);
  return { agent, client: new AgentTestClient(agent.url) };
}

function hostRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-host-test-'));
  dirs.push(dir);
  return dir;
}

describe('rescue.finalize_rescue', () => {
  it('writes a SHA-512 crypt hash (as IPA) and the marker, then stops serving; a restarted agent stays silent', async () => {
    const root = hostRoot();
    const { agent, client } = await start({ simulatedHostRoot: root });
    const { status, body } = await client.post('rescue.finalize_rescue', { rescue_password: 's3cret pass' }, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    expect(body.command_result).toBeNull();

    const hash = readFileSync(join(root, 'etc/ipa-rescue-config/ipa-rescue-password'), 'utf8');
    expect(hash).toMatch(/^\$6\$[^$]+\$[./0-9A-Za-z]{86}$/);
    const salt = hash.split('$')[2]!;
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', salt, 's3cret pass'], { encoding: 'utf8' }).trim()).toBe(hash);
    expect(existsSync(join(root, 'etc/.rescued'))).toBe(true);

    expect(await agent.stopped).toBe('rescue finalized');
    await expect(fetch(`${agent.url}/v1/status`)).rejects.toThrow();

    const again = await startTestAgent({
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
      powerActions: 'simulate',
      simulatedHostRoot: root,
    });
    agents.push(again);
    expect(again.serving).toBe(false);
    await expect(fetch(`http://127.0.0.1:${again.port}/v1/status`)).rejects.toThrow();
  });

  it('stores an already hashed password verbatim', async () => {
    const root = hostRoot();
    const { client } = await start({ simulatedHostRoot: root });
    const hashed = '$6$abc$' + 'x'.repeat(86);
    await client.post('rescue.finalize_rescue', { rescue_password: hashed, hashed: true }, true);
    expect(readFileSync(join(root, 'etc/ipa-rescue-config/ipa-rescue-password'), 'utf8')).toBe(hashed);
  });
});

describe('system.lockdown', () => {
  it('stops the API and records the interfaces it would take down, leaving the host network alone', async () => {
    const { agent, client } = await start();
    const { status, body } = await client.post('system.lockdown', {}, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    expect(await agent.stopped).toBe('lockdown');
    await new Promise((r) => setTimeout(r, 50));
    const record = agent.power.history.find((r) => r.action === 'network_down');
    expect(record?.mode).toBe('simulate');
    expect(record?.detail?.split(',')).not.toContain('lo');
    const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{
      ifname: string;
      flags: string[];
    }>;
    for (const name of record!.detail!.split(',')) {
      const link = links.find((l) => l.ifname === name);
      if (link && name.startsWith('eth')) expect(link.flags).toContain('UP');
    }
    await expect(fetch(`${agent.url}/v1/status`)).rejects.toThrow();
  });

  it('locks down even when `ip` fails (busybox ip has no -j): the API never stays up', async () => {
    const { agent, client } = await start();
    const bin = hostRoot();
    writeFileSync(join(bin, 'ip'), `#!/bin/sh\necho "ip: invalid option -- 'j'" >&2\nexit 1\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const { status, body } = await client.post('system.lockdown', {}, true);
      expect(status).toBe(200);
      expect(body.command_status).toBe('SUCCEEDED');
      expect(await agent.stopped).toBe('lockdown');
    } finally {
      process.env.PATH = path;
    }
    await expect(fetch(`${agent.url}/v1/status`)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    const downed = agent.power.history.find((r) => r.action === 'network_down')?.detail?.split(',') ?? [];
    expect(downed).not.toContain('lo');
    expect(downed.sort()).toEqual(
      readdirSync('/sys/class/net')
        .filter((n) => n !== 'lo')
        .sort(),
    );
  });
});

describe('standby power commands (simulated)', () => {
  it('standby.sync flushes and answers null; run_image records a reboot and the agent goes dark', async () => {
    const device = scratch.create({ sizeMiB: 4 });
    const { agent, client } = await start({ allowDevices: [device.path] });
    const sync = await client.post('standby.sync', {}, true);
    expect(sync.status).toBe(200);
    expect(sync.body.command_status).toBe('SUCCEEDED');
    expect(sync.body.command_result).toBeNull();

    const reboot = await client.post('standby.run_image', {});
    expect(reboot.body.command_status).toBe('RUNNING');
    expect(await agent.stopped).toBe('simulated reboot');
    expect(agent.power.history.map((r) => r.action)).toEqual(['reboot']);
    expect(agent.power.halted?.action).toBe('reboot');
  });

  it('logs which power mode it chose when none was configured (simulate outside a ramdisk)', async () => {
    const { agent } = await start({ powerActions: undefined });
    expect(agent.power.mode).toBe((await agent.services.guard.inRamdisk()) ? 'real' : 'simulate');
  });
});

describe('flow.start_flow', () => {
  const node = { uuid: 'flow-node' };
  const step = (name: string, args: Record<string, unknown> = {}) => ({
    node,
    ports: [],
    step: { step: name, interface: 'deploy', args },
  });

  it('runs the listed commands in order inside one async command; only the flow is stored', async () => {
    const { client } = await start();
    const started = await client.post('flow.start_flow', {
      flow: [{ 'standby.sync': {} }, { 'clean.execute_clean_step': step('fixture_sleep', { ms: 20 }) }],
    });
    expect(started.status).toBe(200);
    const done = await client.waitFor(started.body.id);
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result).toBeNull();
    const { body } = await client.list();
    expect(body.commands.map((c: { command_name: string }) => c.command_name)).toEqual(['start_flow']);
  });

  it('fails with "<name> was failed" at the first failing command and runs nothing after it', async () => {
    const { client } = await start();
    const started = await client.post('flow.start_flow', {
      flow: [{ 'clean.execute_clean_step': step('fixture_unexpected_error') }, { 'standby.sync': {} }],
    });
    const done = await client.waitFor(started.body.id);
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error).toMatchObject({ type: 'CommandExecutionError', details: 'clean.execute_clean_step was failed' });
  });

  it("reports a sub-command's bad input with that command's own 400 error, as IPA's execute_command re-raises it", async () => {
    const { client } = await start();
    const badImage = { image_info: { id: 'img', urls: ['http://127.0.0.1:9/img'] } };
    const direct = await client.post('standby.prepare_image', badImage);
    expect(direct.status).toBe(400);
    const started = await client.post('flow.start_flow', {
      flow: [{ 'standby.sync': {} }, { 'standby.prepare_image': badImage }, { 'standby.sync': {} }],
    });
    expect(started.status).toBe(200);
    const done = await client.waitFor(started.body.id);
    expect(done.command_status).toBe('FAILED');
    // IPA serialises the error the validator raised: the same text the direct call's 400 carries.
    expect(done.command_error).toEqual({
      type: 'InvalidCommandParamsError',
      code: 400,
      message: 'Invalid command parameters',
      details: expect.stringContaining("Image checksum is not available, either the 'checksum' field"),
    });
    expect(direct.body.faultstring).toBe(`Invalid command parameters: ${done.command_error.details}`);
  });

  it('checks every name before starting: unknown extension 404, unknown command 400', async () => {
    const { client } = await start();
    const noExtension = await client.post('flow.start_flow', { flow: [{ 'standby.sync': {} }, { 'nope.cmd': {} }] });
    expect(noExtension.status).toBe(404);
    const noCommand = await client.post('flow.start_flow', { flow: [{ 'standby.nope': {} }] });
    expect(noCommand.status).toBe(400);
    expect((await client.list()).body.commands).toEqual([]);
  });
});
