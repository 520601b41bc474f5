// The erase steps driven as Ironic drives them: clean.execute_clean_step over HTTP, then
// polling GET /v1/commands/{id}, on real loop devices and plain files made by the test.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import type { AgentTestClient } from '../../helpers/agent.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';
import {
  dropPartitions,
  isAllZero,
  partition,
  probe,
  runStep,
  sha256,
  startEraseAgent,
  VENDOR_MANAGER,
  withGptAndFilesystem,
} from './helpers.js';

const MIB = 1024 * 1024;
const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;
let client: AgentTestClient;

async function agentFor(allow: string[]) {
  ({ agent, client } = await startEraseAgent(allow));
}

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  dropPartitions();
  scratch.cleanup();
});
afterAll(() => scratch.cleanup());

describe('step listing', () => {
  beforeAll(async () => agentFor([]));
  afterAll(async () => agent?.close());

  it("offers IPA's erase steps with IPA's priorities and interfaces", async () => {
    const node = { uuid: 'n1', properties: {}, instance_info: {}, driver_internal_info: {} };
    const { body } = await client.post('clean.get_clean_steps', { node, ports: [] }, true);
    const steps = Object.values(body.command_result.clean_steps as Record<string, any[]>).flat();
    const byName = Object.fromEntries(steps.map((s) => [s.step, s]));
    expect(byName.erase_devices).toMatchObject({ priority: 10, interface: 'deploy', abortable: true, reboot_requested: false });
    expect(byName.erase_devices_metadata).toMatchObject({ priority: 99, interface: 'deploy', abortable: true });
    expect(byName.erase_devices_express).toMatchObject({ priority: 0, interface: 'deploy', abortable: true });
    expect(byName.erase_pstore).toMatchObject({ priority: 0, interface: 'deploy', abortable: true });

    const deploy = await client.post('deploy.get_deploy_steps', { node, ports: [] }, true);
    const deploySteps = Object.values(deploy.body.command_result.deploy_steps as Record<string, any[]>).flat();
    expect(deploySteps.find((s) => s.step === 'erase_devices_metadata')).toMatchObject({ priority: 0, interface: 'deploy' });
    expect(deploySteps.find((s) => s.step === 'erase_devices')).toBeUndefined();
  });
});

describe.runIf(canUseLoopDevices())('erase steps on real loop devices', () => {
  it('erase_devices_metadata removes tables and signatures, verifies it, and leaves read-only and not allow-listed devices untouched', async () => {
    const a = scratch.create({ sizeMiB: 24, randomMiB: 24 });
    const b = scratch.create({ sizeMiB: 24, randomMiB: 24 });
    withGptAndFilesystem(scratch, a);
    withGptAndFilesystem(scratch, b);
    const readOnly = scratch.create({ sizeMiB: 8, randomMiB: 8, readOnly: true });
    const notAllowed = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const untouched = [readOnly, notAllowed].map((d) => ({ d, sum: sha256(d.file) }));
    expect(probe(a.path)).toMatch(/PTTYPE=gpt/);

    await agentFor([a.path, b.path, readOnly.path]);
    const { final, runningSnapshots } = await runStep(client, 'erase_devices_metadata', {});

    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    for (const device of [a, b]) {
      expect(probe(device.path)).toBe('');
      expect(execFileSync('sgdisk', ['-p', device.path], { encoding: 'utf8' })).toMatch(/Creating new GPT entries/);
      expect(report.devices[device.path]).toMatchObject({ method: 'metadata', verify: { method: 'no_signature', passed: true } });
    }
    const skipped = Object.fromEntries(report.skipped.map((s: any) => [s.device, s]));
    expect(skipped[readOnly.path]).toMatchObject({ kind: 'read-only', reason: expect.stringMatching(/read-only/) });
    expect(skipped[notAllowed.path]).toMatchObject({
      kind: 'not-allow-listed',
      reason: expect.stringMatching(/not in the allow-list/),
    });
    for (const { d, sum } of untouched) expect(sha256(d.file)).toBe(sum);
    expect(runningSnapshots.length).toBeGreaterThan(0);
    expect(runningSnapshots[0]).toMatchObject({ step: 'erase_devices_metadata' });
  });

  it('an allow-listed disk that holds a mounted filesystem fails the step, named, and no disk is written', async () => {
    const erasable = scratch.create({ sizeMiB: 24, randomMiB: 24 });
    withGptAndFilesystem(scratch, erasable);
    const mounted = scratch.create({ sizeMiB: 16 });
    const mountPoint = scratch.mount(mounted);
    const sums = [erasable, mounted].map((d) => sha256(d.file));
    await agentFor([erasable.path, mounted.path]);

    for (const step of ['erase_devices_metadata', 'erase_devices', 'erase_devices_express']) {
      const { final } = await runStep(client, step, {});
      expect(final.command_status, step).toBe('FAILED');
      expect(final.command_error).toMatchObject({
        type: 'BlockDeviceEraseError',
        details: `Cannot erase ${mounted.path}: holds a mounted filesystem (${mountPoint}). Nothing was written.`,
      });
    }
    expect([erasable, mounted].map((d) => sha256(d.file))).toEqual(sums);
    expect(probe(erasable.path)).toMatch(/PTTYPE=gpt/);
  });

  it('with nothing allow-listed, an erase step fails saying so instead of reporting the node erased', async () => {
    const disk = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const sum = sha256(disk.file);
    await agentFor([]);

    const { final } = await runStep(client, 'erase_devices_metadata', {});
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('BlockDeviceEraseError');
    expect(final.command_error.details).toMatch(
      /^No device was erased: outside a ramdisk only allow-listed devices \(--allow-device\) are erased, and none of the \d+ device\(s\) found is allow-listed/,
    );
    expect(final.command_error.details).toContain(disk.path);
    expect(sha256(disk.file)).toBe(sum);
  });

  it('erase_devices overwrites every device in parallel (shred + zero pass), verifies zeros, and shows progress while running', async () => {
    const devices = [scratch.create({ sizeMiB: 48, randomMiB: 48 }), scratch.create({ sizeMiB: 48, randomMiB: 48 })];
    const file = scratch.create({ sizeMiB: 16, randomMiB: 16, plainFile: true });
    const readOnly = scratch.create({ sizeMiB: 8, randomMiB: 8, readOnly: true });
    const readOnlySum = sha256(readOnly.file);
    await agentFor([...devices.map((d) => d.path), file.path, readOnly.path]);

    const { final, runningSnapshots } = await runStep(client, 'erase_devices', {
      driver_internal_info: {
        agent_erase_devices_iterations: 1,
        agent_erase_devices_zeroize: true,
        agent_erase_skip_read_only: true,
      },
    });

    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    for (const d of [...devices, file]) {
      expect(isAllZero(d.file)).toBe(true);
      expect(report.devices[d.path]).toMatchObject({
        method: 'shred_then_zero',
        passes: 2,
        bytes_written: 2 * d.sizeBytes,
        verify: { method: 'zero_sample', passed: true },
      });
    }
    expect(report.devices[devices[0]!.path].methods_not_used.map((m: any) => m.method)).toEqual([
      'nvme_format',
      'ata_secure_erase',
    ]);
    expect(report.skipped.find((s: any) => s.device === readOnly.path)?.reason).toMatch(/read-only/);
    expect(sha256(readOnly.file)).toBe(readOnlySum);

    // Erased concurrently: each device started before the other finished.
    const [first, second] = devices.map((d) => report.devices[d.path]);
    expect(Date.parse(first.started_at)).toBeLessThan(Date.parse(second.finished_at));
    expect(Date.parse(second.started_at)).toBeLessThan(Date.parse(first.finished_at));
    // And the live view showed both running at the same time.
    const bothRunning = runningSnapshots.some(
      (p) => p.devices.filter((d: any) => devices.some((x) => x.path === d.device) && d.state === 'running').length === 2,
    );
    expect(bothRunning).toBe(true);
    const last = runningSnapshots.at(-1);
    expect(last.overall.bytes_total).toBe(2 * (2 * 48 + 16) * 1024 * 1024);
    expect(last.devices[0]).toHaveProperty('rate_bytes_per_second');
    expect(last.devices[0]).toHaveProperty('eta_seconds');
  });

  it('erase_devices refuses a read-only device without agent_erase_skip_read_only, before writing anything', async () => {
    const writable = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const readOnly = scratch.create({ sizeMiB: 8, randomMiB: 8, readOnly: true });
    const sums = [writable, readOnly].map((d) => sha256(d.file));
    await agentFor([writable.path, readOnly.path]);

    const { final } = await runStep(client, 'erase_devices', {});
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error).toMatchObject({ type: 'BlockDeviceEraseError' });
    expect(final.command_error.details).toContain(readOnly.path);
    expect([writable, readOnly].map((d) => sha256(d.file))).toEqual(sums);
  });

  it('dry_run returns the plan with methods and skip reasons and writes nothing', async () => {
    const loop = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const file = scratch.create({ sizeMiB: 8, randomMiB: 8, plainFile: true });
    const sums = [loop, file].map((d) => sha256(d.file));
    await agentFor([loop.path, file.path]);

    const { final } = await runStep(client, 'erase_devices_express', {}, { dry_run: true });
    expect(final.command_status).toBe('SUCCEEDED');
    const plan = final.command_result.clean_result;
    expect(plan.dry_run).toBe(true);
    expect(plan.devices[loop.path]).toMatchObject({
      method: 'metadata',
      methods_not_used: [{ method: 'nvme_format', reason: 'not an NVMe namespace' }],
      fallback: null,
    });
    expect(plan.devices[file.path]).toMatchObject({ method: 'metadata' });
    expect([loop, file].map((d) => sha256(d.file))).toEqual(sums);
  });

  it('erase_devices_express is a metadata erase where NVMe format does not apply, never a full-media write (as IPA)', async () => {
    const loop = scratch.create({ sizeMiB: 16, randomMiB: 16 });
    const file = scratch.create({ sizeMiB: 16, randomMiB: 16, plainFile: true });
    withGptAndFilesystem(scratch, loop);
    withGptAndFilesystem(scratch, file);
    // The loop device offers write-zeroes (what WRITE SAME is on a SAS disk); it must not be used.
    expect(Number(readFileSync(`/sys/block/${basename(loop.path)}/queue/write_zeroes_max_bytes`, 'utf8'))).toBeGreaterThan(0);
    const middle = (path: string) => readFileSync(path).subarray(12 * MIB, 13 * MIB);
    const middles = [loop, file].map((d) => middle(d.file));
    await agentFor([loop.path, file.path]);

    const { final } = await runStep(client, 'erase_devices_express', {});
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    for (const [i, device] of [loop, file].entries()) {
      expect(report.devices[device.path]).toMatchObject({
        method: 'metadata',
        bytes_written: 0,
        verify: { method: 'no_signature', passed: true },
      });
      expect(probe(device.path)).toBe('');
      expect(middle(device.file).equals(middles[i]!)).toBe(true);
    }
  });

  it('leaves devices matched by properties.skip_block_devices alone and says why', async () => {
    const erased = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const kept = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const keptSum = sha256(kept.file);
    await agentFor([erased.path, kept.path]);

    const { final } = await runStep(client, 'erase_devices_metadata', {
      properties: { skip_block_devices: [{ name: kept.path }] },
    });
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(Object.keys(report.devices)).toContain(erased.path);
    expect(report.skipped.find((s: any) => s.device === kept.path)?.reason).toMatch(/skip_block_devices/);
    expect(sha256(kept.file)).toBe(keptSum);
  });

  it("erases a deployed disk holding Ironic's config drive partition, labelled as virtual media is", async () => {
    // vmedia_boot_iso rather than config-2: other tests look config drives up with blkid -L config-2.
    const deployed = scratch.create({ sizeMiB: 32, randomMiB: 32 });
    partition(deployed, ['-n1:0:+8M', '-n2:0:+8M']);
    execFileSync('mkfs.ext4', ['-q', '-F', `${deployed.path}p1`], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'vmedia_boot_iso', `${deployed.path}p2`], { stdio: 'ignore' });
    await agentFor([deployed.path]);

    const { final } = await runStep(client, 'erase_devices_metadata', {});
    expect(final.command_status, JSON.stringify(final.command_error)).toBe('SUCCEEDED');
    expect(Object.keys(final.command_result.clean_result.devices)).toEqual([deployed.path]);
    expect(probe(deployed.path)).toBe('');
  });

  it('skips virtual media (a read-only drive labelled vmedia_boot_iso) and aborts on a VMFS partition without writing anything', async () => {
    const configDrive = scratch.create({ sizeMiB: 16 });
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'VMEDIA_BOOT_ISO', configDrive.path], { stdio: 'ignore' });
    const other = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    const sums = [configDrive, other].map((d) => sha256(d.file));
    // A BMC's virtual drive is read-only. The flag outlives a detach: cleared for the next user.
    execFileSync('blockdev', ['--setro', configDrive.path]);
    try {
      await agentFor([configDrive.path, other.path]);
      const { final } = await runStep(client, 'erase_devices_metadata', {});
      expect(final.command_status).toBe('SUCCEEDED');
      expect(final.command_result.clean_result.skipped.find((s: any) => s.device === configDrive.path)?.reason).toMatch(
        /virtual media.*VMEDIA_BOOT_ISO/,
      );
      expect(sha256(configDrive.file)).toBe(sums[0]);
    } finally {
      execFileSync('blockdev', ['--setrw', configDrive.path]);
    }

    const vmfs = scratch.create({ sizeMiB: 16, randomMiB: 16 });
    partition(vmfs, ['-n1:0:+8M', '-t1:AA31E02A-400F-11DB-9590-000C2911D1B8']);
    const vmfsSum = sha256(vmfs.file);
    const otherSum = sha256(other.file);
    await agent?.close();
    await agentFor([vmfs.path, other.path]);
    const aborted = await runStep(client, 'erase_devices_metadata', {});
    expect(aborted.final.command_status).toBe('FAILED');
    expect(aborted.final.command_error).toMatchObject({ type: 'ProtectedDeviceError' });
    expect(aborted.final.command_error.details).toMatch(/GPFS\/VMFS/);
    expect(sha256(vmfs.file)).toBe(vmfsSum);
    expect(sha256(other.file)).toBe(otherSum);
  });

  it("erase_devices lets another manager's erase_block_device take the devices it claims, and erases the rest itself", async () => {
    const vendorDrive = scratch.create({ sizeMiB: 16, randomMiB: 16 });
    withGptAndFilesystem(scratch, vendorDrive);
    const plain = scratch.create({ sizeMiB: 8, randomMiB: 8 });
    ({ agent, client } = await startEraseAgent([vendorDrive.path, plain.path], [VENDOR_MANAGER]));

    const { final } = await runStep(client, 'erase_devices', {
      driver_internal_info: { vendor_erase_devices: [vendorDrive.path], agent_erase_devices_iterations: 0 },
    });
    expect(final.command_status).toBe('SUCCEEDED');
    const report = final.command_result.clean_result;
    expect(report.devices[vendorDrive.path]).toMatchObject({
      method: 'erase_block_device',
      verify: { method: 'no_signature', passed: true },
    });
    expect(probe(vendorDrive.path)).toBe('');
    expect(isAllZero(vendorDrive.file)).toBe(false);
    expect(report.devices[plain.path]).toMatchObject({ method: 'zero', verify: { passed: true } });
    expect(isAllZero(plain.file)).toBe(true);
  });
});
