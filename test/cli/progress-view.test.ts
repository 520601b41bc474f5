// `ramdisk-agent progress`: what an operator sees while an erase runs and when it ends.
import { afterEach, describe, expect, it } from 'vitest';
import { runProgress, parseProgressFlags, ProgressError, ProgressUsageError } from '../../src/cli/progress-command.js';
import { bar, formatBytes, renderCommand } from '../../src/cli/progress-view.js';
import type { RunningAgent } from '../../src/agent/agent.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { startEraseAgent } from '../hardware-managers/generic-disk-erase/helpers.js';

const MIB = 1024 * 1024;

const running = {
  id: 'c1',
  command_name: 'execute_clean_step',
  command_status: 'RUNNING',
  command_error: null,
  command_result: null,
  command_progress: {
    step: 'erase_devices',
    overall: { percent: 37.5, bytes_done: 96 * MIB, bytes_total: 256 * MIB, rate_bytes_per_second: 200 * MIB, eta_seconds: 1 },
    devices: [
      {
        device: '/dev/loop3',
        state: 'running',
        method: 'shred_then_zero',
        pass: 2,
        passes: 2,
        bytes_done: 96 * MIB,
        bytes_total: 128 * MIB,
        percent: 75,
        rate_bytes_per_second: 200 * MIB,
        eta_seconds: 1,
      },
      {
        device: '/dev/loop4',
        state: 'pending',
        method: null,
        pass: 0,
        passes: 0,
        bytes_done: 0,
        bytes_total: 0,
        percent: 0,
        rate_bytes_per_second: 0,
        eta_seconds: null,
      },
    ],
    skipped: [
      { device: '/dev/vda', reason: 'not in the allow-list' },
      { device: '/dev/zram0', reason: 'not in the allow-list' },
      { device: '/dev/loop9', reason: 'read-only device' },
    ],
  },
};

describe('progress view', () => {
  it('draws the step and every device as bars with bytes, rate, ETA and pass, then the skipped devices', () => {
    const text = renderCommand(running);
    const lines = text.split('\n');
    expect(lines[0]).toBe('execute_clean_step  c1  RUNNING');
    expect(lines[1]).toContain(bar(37.5));
    expect(lines[1]).toContain('96.0 MiB/256 MiB');
    expect(lines[2]).toMatch(/\/dev\/loop3 .*75\.0%.*shred_then_zero.*pass 2\/2.*96\.0 MiB\/128 MiB.*200 MiB\/s.*ETA 1s/);
    expect(lines[3]).toMatch(/\/dev\/loop4 .*pending/);
    expect(text).toContain('  skipped (3):\n    /dev/vda, /dev/zram0: not in the allow-list\n    /dev/loop9: read-only device');
  });

  it("ends with each device's method and verify outcome, or the error", () => {
    const done = renderCommand({
      ...running,
      command_status: 'SUCCEEDED',
      command_result: {
        clean_result: {
          devices: { '/dev/loop3': { method: 'zero', duration_seconds: 3, verify: { passed: true, checked: 'zeros' } } },
        },
        clean_step: {},
      },
    });
    expect(done).toContain('/dev/loop3: zero in 3s, verify passed (zeros)');
    const failed = renderCommand({
      ...running,
      command_status: 'FAILED',
      command_error: { type: 'BlockDeviceEraseError', details: '/dev/loop3: boom' },
    });
    expect(failed).toContain('error: BlockDeviceEraseError: /dev/loop3: boom');
  });

  it('draws a burn-in as its phase over elapsed/planned time, figures per part and temperatures, then verdicts', () => {
    const burnin = {
      ...running,
      command_progress: {
        step: 'burnin_disk',
        phase: 'fio',
        started_at: '2026-12-04T18:00:00.000Z',
        elapsed_seconds: 12.3,
        planned_seconds: 30,
        percent: 41,
        parts: {
          '/dev/nvme0n1': { state: 'running', read_mib_per_second: 120.5, write_mib_per_second: 119.8, errors: 0 },
          '/dev/sda': { state: 'running', read_mib_per_second: 80, write_mib_per_second: 79.9, errors: 2 },
        },
        temperatures: [{ sensor: 'nvme/Composite', device: 'nvme0', celsius: 41.9 }],
      },
    };
    const lines = renderCommand(burnin).split('\n');
    expect(lines[1]).toMatch(/^burnin_disk .*41\.0%  fio  12s \/ 30s$/);
    expect(lines[1]).toContain(bar(41));
    expect(lines[2]).toBe('  /dev/nvme0n1  running  read 120.5 MiB/s  write 119.8 MiB/s  errors 0');
    expect(lines[3]).toBe('  /dev/sda      running  read 80 MiB/s  write 79.9 MiB/s  errors 2');
    expect(lines[4]).toBe('  temperatures: nvme/Composite 41.9°C');
    const failed = renderCommand({
      ...burnin,
      command_status: 'FAILED',
      command_error: {
        type: 'CleaningError',
        details: 'burnin_disk failed: /dev/sda: errors 2 is above agent_burnin_fio_disk_max_errors 0',
      },
      command_result: null,
    });
    expect(failed).toContain('error: CleaningError: burnin_disk failed: /dev/sda: errors 2 is above');
    const done = renderCommand({
      ...burnin,
      command_status: 'SUCCEEDED',
      command_result: {
        clean_result: {
          duration_seconds: 3,
          parts: [{ name: 'cpu', passed: true, failures: [], workers: 2, bogo_ops_per_second: 812.4 }],
        },
      },
    });
    expect(done).toContain('  cpu: passed  workers 2  bogo-ops/s 812.4');
  });

  it('shows other progress shapes as key: value lines', () => {
    expect(renderCommand({ ...running, command_progress: { phase: 'downloading', percent: 12 } })).toContain(
      '  phase: downloading',
    );
  });

  it('formats sizes in binary units and rejects bad flags', () => {
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(() => parseProgressFlags(['--interval', '5'])).toThrow(ProgressUsageError);
    expect(() => parseProgressFlags(['--bogus'])).toThrow(ProgressUsageError);
    expect(parseProgressFlags(['--agent', 'http://127.0.0.1:1234/', '--token', 't'])).toMatchObject({
      agent: 'http://127.0.0.1:1234',
      token: 't',
    });
  });
});

describe('talking to an agent', () => {
  it('says so in one line when the agent has run nothing yet or cannot be reached', async () => {
    const { agent, client } = await startEraseAgent([]);
    const options = { agent: agent.url, token: client.token, command: undefined, intervalMs: 50, once: false };
    const out = { write: () => undefined, isTTY: false };
    await expect(runProgress(options, out)).rejects.toThrow(new ProgressError('the agent has run no command yet'));
    await expect(runProgress({ ...options, command: 'no-such-id' }, out)).rejects.toThrow(/answered 404/);
    await agent.close();
    await expect(runProgress(options, out)).rejects.toThrow(
      /cannot reach the agent at http:\/\/127\.0\.0\.1:\d+\/v1\/commands\/\?agent_token=…/,
    );
  });
});

describe.runIf(canUseLoopDevices())('following a real erase', () => {
  const scratch = new ScratchDevices();
  let agent: RunningAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    scratch.cleanup();
  });

  it('follows the command until it succeeds, drawing the running state and the verified result', async () => {
    const device = scratch.create({ sizeMiB: 64, randomMiB: 64 });
    const started = await startEraseAgent([device.path]);
    agent = started.agent;
    const posted = await started.client.post('clean.execute_clean_step', {
      step: { step: 'erase_devices', interface: 'deploy', priority: 10 },
      node: { uuid: 'n1', properties: {}, instance_info: {}, driver_internal_info: { agent_erase_devices_iterations: 2 } },
      ports: [],
    });
    const frames: string[] = [];
    const status = await runProgress(
      { agent: agent.url, token: started.client.token, command: undefined, intervalMs: 50, once: false },
      { write: (text) => frames.push(text), isTTY: false },
    );
    expect(status).toBe(0);
    expect(frames.some((f) => f.includes('RUNNING') && f.includes(device.path) && /\[[█░]+\]/.test(f))).toBe(true);
    expect(frames.at(-1)).toContain(`${posted.body.id}  SUCCEEDED`);
    expect(frames.at(-1)).toContain(`${device.path}: shred_then_zero`);
    expect(frames.at(-1)).toContain('verify passed');
  });
});
