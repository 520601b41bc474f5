/**
 * The power-actions module. Simulated actions never start a program; real ones run
 * poweroff/reboot and fall back to the sysrq trigger when the init system refuses. The real
 * path cannot run here (it would power this machine off), so it runs against a recording
 * exec and a temporary /proc stand-in.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PowerActions, resolvePowerMode, type HostActionRecord } from '../../src/agent/power.js';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { ExecError } from '../../src/hardware/exec.js';
import { silentLogger, type Logger } from '../../src/hardware/logger.js';
import type { Exec } from '../../src/hardware/step-context.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function recordingExec(answer: (file: string, args: readonly string[]) => { stderr?: string; fail?: boolean } = () => ({})) {
  const calls: string[] = [];
  const exec: Exec = async (file, args = []) => {
    calls.push([file, ...args].join(' '));
    const { stderr = '', fail } = answer(file, args);
    if (fail) throw new ExecError({ command: file, exitCode: 1, stderr: 'Failed to talk to init daemon.', reason: 'exit' });
    return { command: file, exitCode: 0, stdout: '', stderr, durationMs: 1 };
  };
  return { exec, calls };
}

function fakeProc(): string {
  const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-proc-'));
  dirs.push(root);
  mkdirSync(join(root, 'sys', 'kernel'), { recursive: true });
  return root;
}

describe('simulated power actions', () => {
  it('start no program, record the action and announce the halt', async () => {
    const { exec, calls } = recordingExec();
    const power = new PowerActions({ mode: 'simulate', exec, log: silentLogger });
    const halted: HostActionRecord[] = [];
    power.on('halted', (r) => halted.push(r));
    await power.powerOff();
    await power.networkDown(['eth0', 'eth1']);
    expect(calls).toEqual([]);
    expect(power.history.map((r) => [r.action, r.mode, r.detail])).toEqual([
      ['power_off', 'simulate', undefined],
      ['network_down', 'simulate', 'eth0,eth1'],
    ]);
    expect(halted.map((r) => r.action)).toEqual(['power_off']);
    expect(power.halted?.action).toBe('power_off');
  });

  it('put host files under a simulated root, never at the real path', () => {
    const { exec } = recordingExec();
    const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-root-'));
    dirs.push(root);
    expect(new PowerActions({ mode: 'simulate', exec, log: silentLogger, simulatedRoot: root }).hostPath('/etc/.rescued')).toBe(
      join(root, 'etc/.rescued'),
    );
    expect(new PowerActions({ mode: 'real', exec, log: silentLogger }).hostPath('/etc/.rescued')).toBe('/etc/.rescued');
  });
});

describe('real power actions (recording exec, /proc stand-in)', () => {
  it('run poweroff / reboot and take each interface down', async () => {
    const { exec, calls } = recordingExec();
    const power = new PowerActions({ mode: 'real', exec, log: silentLogger, procRoot: fakeProc() });
    await power.powerOff();
    await power.reboot();
    await power.networkDown(['eth0']);
    expect(calls).toEqual(['poweroff', 'reboot', 'ip link set eth0 down']);
  });

  it('fall back to the sysrq trigger when the init system ignores or refuses the request', async () => {
    const proc = fakeProc();
    const ignoring = new PowerActions({
      mode: 'real',
      exec: recordingExec(() => ({ stderr: 'Operation ignoring request' })).exec,
      log: silentLogger,
      procRoot: proc,
    });
    await ignoring.powerOff();
    expect(readFileSync(join(proc, 'sysrq-trigger'), 'utf8')).toBe('o');
    expect(readFileSync(join(proc, 'sys/kernel/sysrq'), 'utf8')).toBe('1');
    const failing = new PowerActions({
      mode: 'real',
      exec: recordingExec(() => ({ fail: true })).exec,
      log: silentLogger,
      procRoot: proc,
    });
    await failing.reboot();
    expect(readFileSync(join(proc, 'sysrq-trigger'), 'utf8')).toBe('b');
  });

  it('report SystemRebootError when even the sysrq trigger cannot be written', async () => {
    const power = new PowerActions({
      mode: 'real',
      exec: recordingExec(() => ({ fail: true })).exec,
      log: silentLogger,
      procRoot: '/nonexistent-proc',
    });
    await expect(power.reboot()).rejects.toMatchObject({ type: 'SystemRebootError' });
    expect(power.halted).toBeUndefined();
  });
});

describe('choosing the mode', () => {
  function capture(): { log: Logger; lines: string[] } {
    const lines: string[] = [];
    const log: Logger = {
      ...silentLogger,
      info: (a: unknown, b?: unknown) => void lines.push(String(typeof a === 'string' ? a : b)),
    } as Logger;
    return { log, lines };
  }

  it('uses the configured mode, else real only in a ramdisk, and says which', async () => {
    const a = capture();
    expect(await resolvePowerMode('real', new DeviceGuard({ allowList: [], inRamdisk: false }), a.log)).toBe('real');
    expect(a.lines[0]).toMatch(/real \(configured\)/);
    const b = capture();
    expect(await resolvePowerMode(undefined, new DeviceGuard({ allowList: [], inRamdisk: true }), b.log)).toBe('real');
    expect(b.lines[0]).toMatch(/running from a ramdisk/);
    const c = capture();
    expect(await resolvePowerMode(undefined, new DeviceGuard({ allowList: [], inRamdisk: false }), c.log)).toBe('simulate');
    expect(c.lines[0]).toMatch(/simulate \(not running from a ramdisk/);
  });
});
