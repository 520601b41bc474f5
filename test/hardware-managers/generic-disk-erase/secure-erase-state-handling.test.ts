// ATA and NVMe secure erase cannot run here (no such drives), so a scripted drive answers
// hdparm/smartctl/nvme with the real captured outputs (test/fixtures/erase), changed only
// in the lines a state change changes. Everything else (shred, dd, reads) is real.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ataSecureErase, parseHdparmSecurity } from '../../../hardware-managers/generic-disk-erase/ata.js';
import { chooseFullEraseMethod, eraseDevice } from '../../../hardware-managers/generic-disk-erase/device-eraser.js';
import { probeNvmeFormat } from '../../../hardware-managers/generic-disk-erase/nvme.js';
import { ProgressBoard } from '../../../hardware-managers/generic-disk-erase/progress.js';
import { eraseSettingsFromNode } from '../../../hardware-managers/generic-disk-erase/settings.js';
import {
  describeFileDevice,
  DeviceGuard,
  exec as realExec,
  ExecError,
  type ExecOptions,
  type StepContext,
} from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/hardware/logger.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { isAllZero, sha256 } from './helpers.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'erase');
const HDPARM = readFileSync(join(fixtures, 'hdparm-I-wdc-wds400t2b0a-not-frozen.txt'), 'utf8');
const SMARTCTL = readFileSync(join(fixtures, 'smartctl-json-samsung-hd204ui-sec1.json'), 'utf8');
const ID_CTRL = readFileSync(join(fixtures, 'nvme-id-ctrl-wdc-pc-sn730.json'), 'utf8');

interface DriveState {
  enabled: boolean;
  locked: boolean;
  frozen: boolean;
  /** Passwords that unlock the drive. */
  unlocksWith: string[];
  eraseFails: boolean;
  /** The erase runs until the step is aborted (hdparm killed; the password stays set). */
  eraseRunsUntilAborted?: boolean;
}

/** hdparm -I output for a state, built from the real capture. */
function hdparmFor(state: DriveState): string {
  return HDPARM.replace(/ {4}not {4}enabled/, state.enabled ? '\t\tenabled' : '\tnot\tenabled')
    .replace(/ {4}not {4}locked/, state.locked ? '\t\tlocked' : '\tnot\tlocked')
    .replace(/ {4}not {4}frozen/, state.frozen ? '\t\tfrozen' : '\tnot\tfrozen');
}

class ScriptedAtaDrive {
  readonly calls: string[] = [];
  constructor(readonly state: DriveState) {}

  exec = async (file: string, args: readonly string[] = [], options?: ExecOptions) => {
    const command = [file, ...args].join(' ');
    if (file !== 'hdparm' && file !== 'smartctl') return realExec(file, args, options);
    // The agent's exec starts nothing once its signal has fired: asked of the real one.
    await realExec('true', [], { signal: options?.signal });
    this.calls.push(command);
    const ok = (stdout = '') => ({ command, exitCode: 0, stdout, stderr: '', durationMs: 1 });
    const fail = (stderr: string) => {
      throw new ExecError({ command, exitCode: 5, stderr, reason: 'exit' });
    };
    if (file === 'smartctl') return ok(SMARTCTL);
    if (args[0] === '-I') return ok(hdparmFor(this.state));
    const action = args[2];
    const password = args[3] ?? '';
    if (action === '--security-unlock') {
      if (this.state.unlocksWith.includes(password)) this.state.locked = false;
      else fail('SECURITY_UNLOCK: Input/output error');
      return ok();
    }
    if (action === '--security-set-pass') {
      this.state.enabled = true;
      return ok();
    }
    if (action === '--security-erase' || action === '--security-erase-enhanced') {
      if (this.state.eraseRunsUntilAborted) {
        this.state.locked = true;
        // Killed by the abort as the real exec kills hdparm: its ExecError, reason 'aborted'.
        await realExec('sleep', ['60'], options);
      }
      if (this.state.eraseFails) {
        this.state.locked = true;
        fail('SECURITY_ERASE: Input/output error');
      }
      this.state.enabled = false;
      return ok();
    }
    if (action === '--security-disable') {
      this.state.enabled = false;
      return ok();
    }
    throw new Error(`unexpected ${command}`);
  };
}

/** As the agent makes it: every ctx.exec bound to the step's signal (step-phase.ts). */
function contextWith(
  exec: StepContext['exec'],
  node: StepContext['node'] = {},
  signal = new AbortController().signal,
): StepContext {
  return {
    node,
    ports: [],
    phase: 'clean',
    log: silentLogger,
    progress: { update: () => undefined },
    signal,
    guard: new DeviceGuard({ allowList: [], inRamdisk: false }),
    exec: (file, args, options) => exec(file, args, { signal, ...options }),
    dispatch: async () => undefined as never,
  };
}

async function waitUntil(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const notFrozen = (): DriveState => ({ enabled: false, locked: false, frozen: false, unlocksWith: ['NULL'], eraseFails: false });
const initial = (state: DriveState) => parseHdparmSecurity(hdparmFor(state))!;

describe('ATA secure erase state handling', () => {
  it('sets the temporary password, runs the enhanced erase, and checks security is off afterwards', async () => {
    const drive = new ScriptedAtaDrive(notFrozen());
    const outcome = await ataSecureErase(contextWith(drive.exec), '/dev/sdz', initial(drive.state));
    expect(outcome).toEqual({ enhanced: true, estimatedMinutes: 2 });
    expect(drive.calls.filter((c) => !c.startsWith('hdparm -I'))).toEqual([
      'hdparm --user-master u --security-set-pass NULL /dev/sdz',
      'hdparm --user-master u --security-erase-enhanced NULL /dev/sdz',
    ]);
  });

  it('refuses a frozen drive without sending it anything', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), frozen: true });
    await expect(ataSecureErase(contextWith(drive.exec), '/dev/sdz', initial(drive.state))).rejects.toThrow(
      'block device /dev/sdz is frozen and cannot be erased',
    );
    expect(drive.calls).toEqual([]);
  });

  it('unlocks a drive a failed attempt left locked (NULL, then empty password) and erases it', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), enabled: true, locked: true, unlocksWith: [''] });
    await ataSecureErase(contextWith(drive.exec), '/dev/sdz', initial(drive.state));
    const writes = drive.calls.filter((c) => !c.startsWith('hdparm -I'));
    expect(writes).toEqual([
      'hdparm --user-master u --security-unlock NULL /dev/sdz',
      'hdparm --user-master u --security-unlock  /dev/sdz',
      'hdparm --user-master u --security-erase-enhanced NULL /dev/sdz',
    ]);
  });

  it('gives up on a drive locked with an unknown password', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), enabled: true, locked: true, unlocksWith: [] });
    await expect(ataSecureErase(contextWith(drive.exec), '/dev/sdz', initial(drive.state))).rejects.toThrow(
      'Block device /dev/sdz already has a security password set',
    );
    expect(drive.calls.some((c) => c.includes('--security-erase'))).toBe(false);
  });

  it('after a failed erase, unlocks the drive and removes the temporary password', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), eraseFails: true });
    await expect(ataSecureErase(contextWith(drive.exec), '/dev/sdz', initial(drive.state))).rejects.toThrow(
      /Erase failed for device \/dev\/sdz/,
    );
    expect(drive.calls).toContain('hdparm --user-master u --security-unlock NULL /dev/sdz');
    expect(drive.calls).toContain('hdparm --user-master u --security-disable NULL /dev/sdz');
    expect(drive.state).toMatchObject({ locked: false, enabled: false });
  });
});

describe('an ATA secure erase aborted mid-way', () => {
  const scratch = new ScratchDevices();
  afterEach(() => scratch.cleanup());

  async function abortedErase(node: StepContext['node'] = {}) {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), eraseRunsUntilAborted: true });
    const abort = new AbortController();
    const ctx = contextWith(drive.exec, node, abort.signal);
    const erasing = () => waitUntil('the erase to start', () => drive.calls.some((c) => c.includes('--security-erase')));
    return { drive, abort, ctx, erasing };
  }

  it('still unlocks the drive and removes the temporary password, then rethrows the abort', async () => {
    const { drive, abort, ctx, erasing } = await abortedErase();
    const erase = ataSecureErase(ctx, '/dev/sdz', initial(drive.state));
    await erasing();
    abort.abort();
    const error = await erase.catch((caught: unknown) => caught);
    expect(drive.state).toMatchObject({ locked: false, enabled: false });
    expect(drive.calls.slice(-3)).toEqual([
      'hdparm --user-master u --security-unlock NULL /dev/sdz',
      'hdparm -I /dev/sdz',
      'hdparm --user-master u --security-disable NULL /dev/sdz',
    ]);
    expect(error).toMatchObject({ type: 'ExecError', reason: 'aborted' });
  });

  it('in erase_devices is the abort, not IncompatibleHardwareMethodError, and no overwrite follows even with the fallback on', async () => {
    const node = { driver_internal_info: { agent_continue_if_secure_erase_failed: true, agent_erase_devices_iterations: 0 } };
    const { drive, abort, ctx, erasing } = await abortedErase(node);
    const file = scratch.create({ sizeMiB: 4, randomMiB: 4, plainFile: true });
    const before = sha256(file.file);
    const device = await describeFileDevice(file.file);
    const board = new ProgressBoard(ctx.progress, 'erase_devices', [{ path: device.path, sizeBytes: device.sizeBytes }], []);
    const choice = {
      method: { kind: 'ata_secure_erase' as const, security: initial(drive.state) },
      notUsed: [],
      fallback: { kind: 'overwrite' as const, plan: { randomPasses: 0, zeroPass: true } },
    };
    const erase = eraseDevice(ctx, device, choice, board);
    await erasing();
    abort.abort();
    const error = await erase.catch((caught: unknown) => caught);
    expect(error).toMatchObject({ type: 'ExecError', reason: 'aborted' });
    expect(drive.state).toMatchObject({ locked: false, enabled: false });
    expect(sha256(file.file)).toBe(before);
  });
});

describe('an NVMe format that runs out of time', () => {
  const scratch = new ScratchDevices();
  afterEach(() => scratch.cleanup());

  it('is the timeout, not IncompatibleHardwareMethodError (which sent the dispatcher to the next manager)', async () => {
    // The format is a real command given 50 ms: the exec wrapper's own timeout error.
    const ctx = contextWith(async (file, args = [], options) =>
      file === 'nvme' ? realExec('sleep', ['5'], { ...options, timeoutMs: 50 }) : realExec(file, args, options),
    );
    const file = scratch.create({ sizeMiB: 4, randomMiB: 4, plainFile: true });
    const before = sha256(file.file);
    const device = await describeFileDevice(file.file);
    const board = new ProgressBoard(ctx.progress, 'erase_devices', [{ path: device.path, sizeBytes: device.sizeBytes }], []);
    for (const fallback of [undefined, { kind: 'overwrite' as const, plan: { randomPasses: 0, zeroPass: true } }]) {
      const choice = {
        method: { kind: 'nvme_format' as const, ses: 2 as const },
        notUsed: [],
        ...(fallback ? { fallback } : {}),
      };
      await expect(eraseDevice(ctx, device, choice, board)).rejects.toMatchObject({ type: 'ExecError', reason: 'timeout' });
    }
    expect(sha256(file.file)).toBe(before);
  });
});

describe('a failed secure erase in erase_devices', () => {
  const scratch = new ScratchDevices();
  afterEach(() => scratch.cleanup());

  it('without agent_continue_if_secure_erase_failed is IncompatibleHardwareMethodError and writes nothing else', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), eraseFails: true });
    const file = scratch.create({ sizeMiB: 4, randomMiB: 4, plainFile: true });
    const device = await describeFileDevice(file.file);
    const ctx = contextWith(drive.exec);
    const board = new ProgressBoard(ctx.progress, 'erase_devices', [{ path: device.path, sizeBytes: device.sizeBytes }], []);
    const choice = { method: { kind: 'ata_secure_erase' as const, security: initial(drive.state) }, notUsed: [] };
    await expect(eraseDevice(ctx, device, choice, board)).rejects.toMatchObject({ type: 'IncompatibleHardwareMethodError' });
    expect(isAllZero(file.file)).toBe(false);
  });

  it('with it, falls back to a real overwrite and reports why the secure erase was not used', async () => {
    const drive = new ScriptedAtaDrive({ ...notFrozen(), eraseFails: true });
    const file = scratch.create({ sizeMiB: 4, randomMiB: 4, plainFile: true });
    const device = await describeFileDevice(file.file);
    const node = { driver_internal_info: { agent_continue_if_secure_erase_failed: true, agent_erase_devices_iterations: 0 } };
    const ctx = contextWith(drive.exec, node);
    const settings = eraseSettingsFromNode(node);
    const board = new ProgressBoard(ctx.progress, 'erase_devices', [{ path: device.path, sizeBytes: device.sizeBytes }], []);
    const choice = {
      method: { kind: 'ata_secure_erase' as const, security: initial(drive.state) },
      notUsed: [],
      fallback: { kind: 'overwrite' as const, plan: { randomPasses: settings.iterations, zeroPass: settings.zeroize } },
    };
    const report = await eraseDevice(ctx, device, choice, board);
    expect(report.method).toBe('zero');
    expect(report.methods_not_used[0]).toMatchObject({
      method: 'ata_enhanced_secure_erase',
      reason: expect.stringMatching(/^failed: Erase failed/),
    });
    expect(report.verify.passed).toBe(true);
    expect(isAllZero(file.file)).toBe(true);
  });
});

describe('agent_erase_devices_iterations 0 with agent_erase_devices_zeroize false', () => {
  const scratch = new ScratchDevices();
  afterEach(() => scratch.cleanup());
  const settingsWith = (more: Record<string, unknown> = {}) =>
    eraseSettingsFromNode({
      driver_internal_info: { agent_erase_devices_iterations: 0, agent_erase_devices_zeroize: false, ...more },
    });
  // A SATA drive's record; the scripted drive answers for it. Only path and type matter here.
  const sataDrive = async () => ({
    ...(await describeFileDevice(join(fixtures, 'README.md'))),
    path: '/dev/sdz',
    name: 'sdz',
    type: 'disk',
  });

  it('still erases a drive with ATA secure erase (it failed every disk, as if each needed the overwrite)', async () => {
    const drive = new ScriptedAtaDrive(notFrozen());
    const choice = await chooseFullEraseMethod(contextWith(drive.exec), await sataDrive(), settingsWith());
    expect(choice.method.kind).toBe('ata_secure_erase');
    expect(choice.fallback).toBeUndefined();
  });

  it('refuses where the overwrite would run: the only method left, or the fallback of the secure erase', async () => {
    const file = scratch.create({ sizeMiB: 4, randomMiB: 4, plainFile: true });
    const plain = await describeFileDevice(file.file);
    await expect(chooseFullEraseMethod(contextWith(realExec), plain, settingsWith())).rejects.toMatchObject({
      type: 'BlockDeviceEraseError',
      details: expect.stringMatching(/^Refusing to erase .*: .*so the overwrite, the only method left, would write nothing/),
    });
    const drive = new ScriptedAtaDrive(notFrozen());
    const withFallback = settingsWith({ agent_continue_if_secure_erase_failed: true });
    await expect(chooseFullEraseMethod(contextWith(drive.exec), await sataDrive(), withFallback)).rejects.toMatchObject({
      details: expect.stringContaining('the fallback of a failed secure erase'),
    });
    expect(drive.calls.some((c) => c.includes('--security'))).toBe(false);
  });
});

describe('NVMe format choice', () => {
  const nvmeExec =
    (idCtrl: string) =>
    async (file: string, args: readonly string[] = []) => {
      if (file === 'nvme' && args[0] === 'id-ctrl')
        return { command: 'nvme id-ctrl', exitCode: 0, stdout: idCtrl, stderr: '', durationMs: 1 };
      throw new Error(`unexpected ${file} ${args.join(' ')}`);
    };

  it('uses crypto erase (ses 2) when the controller offers it, user-data erase (ses 1) otherwise', async () => {
    const crypto = await probeNvmeFormat(contextWith(nvmeExec(ID_CTRL)), '/dev/nvme0n1');
    expect(crypto).toMatchObject({ usable: true, ses: 2 });
    const userData = await probeNvmeFormat(contextWith(nvmeExec(ID_CTRL.replace('"fna" : 4', '"fna" : 0'))), '/dev/nvme0n1');
    expect(userData).toMatchObject({ usable: true, ses: 1 });
  });

  it('falls back to overwrite when the controller cannot format, saying why', async () => {
    const ctx = contextWith(nvmeExec(ID_CTRL.replace('"oacs" : 23', '"oacs" : 0')));
    // Any device record will do; only its path and type matter to the choice.
    const device = {
      ...(await describeFileDevice(join(fixtures, 'README.md'))),
      path: '/dev/nvme0n1',
      name: 'nvme0n1',
      type: 'disk',
    };
    const choice = await chooseFullEraseMethod(ctx, device, eraseSettingsFromNode({}));
    expect(choice.method.kind).toBe('overwrite');
    expect(choice.notUsed).toEqual([
      { method: 'nvme_format', reason: 'the controller does not support Format NVM (OACS bit 1 clear)' },
      { method: 'ata_secure_erase', reason: 'an NVMe device' },
    ]);
  });
});
