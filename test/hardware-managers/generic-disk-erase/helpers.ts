/** Shared by the erase tests: an agent with only the erase manager, and checks on scratch devices. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eraseDevice } from '../../../hardware-managers/generic-disk-erase/device-eraser.js';
import { ProgressBoard } from '../../../hardware-managers/generic-disk-erase/progress.js';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { listBlockDevices, type BlockDevice } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';
import { dropPartitionEntries, type ScratchDevice, type ScratchDevices } from '../../helpers/loop-devices.js';

const ERASE_MANAGER = join(import.meta.dirname, '..', '..', '..', 'hardware-managers', 'generic-disk-erase');

/** A vendor manager whose erase_block_device claims some devices (test/fixtures/erase). */
export const VENDOR_MANAGER = join(import.meta.dirname, '..', '..', 'fixtures', 'erase', 'vendor-erase-manager');

export async function startEraseAgent(
  allowDevices: string[],
  extraManagers: string[] = [],
): Promise<{ agent: RunningAgent; client: AgentTestClient }> {
  const agent = await startTestAgent({
    allowDevices,
    loadShippedManagers: false,
    hardwareManagerPaths: [ERASE_MANAGER, ...extraManagers],
  });
  return { agent, client: new AgentTestClient(agent.url) };
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function isAllZero(file: string): boolean {
  const data = readFileSync(file);
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

const partitioned = new Set<string>();

/**
 * Creates partitions on a scratch loop device and tells the kernel (loop devices here have
 * no partition scanning). Partition entries a previous user of the same loop number left
 * behind are dropped first; `dropPartitions()` removes ours before the loop is detached,
 * since the kernel keeps them otherwise.
 */
export function partition(device: ScratchDevice, sgdiskArgs: string[]): void {
  if (device.isLoop) dropPartitionEntries(device.path);
  execFileSync('sgdisk', [...sgdiskArgs, device.path], { stdio: 'ignore' });
  if (device.isLoop) {
    execFileSync('partx', ['-a', device.path], { stdio: 'ignore' });
    partitioned.add(device.path);
  }
}

export function dropPartitions(): void {
  for (const path of partitioned) dropPartitionEntries(path);
  partitioned.clear();
}

/** GPT with one partition holding ext4, on top of random data. */
export function withGptAndFilesystem(scratch: ScratchDevices, device: ScratchDevice): void {
  partition(device, ['-n1:0:+8M']);
  if (device.isLoop) execFileSync('mkfs.ext4', ['-q', '-F', `${device.path}p1`], { stdio: 'ignore' });
  void scratch;
}

/** What `blkid -p` finds on the device (empty when nothing). */
export function probe(path: string): string {
  try {
    return execFileSync('blkid', ['-p', '-o', 'export', path], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export interface Polled {
  final: any;
  runningSnapshots: any[];
}

export async function runStep(
  client: AgentTestClient,
  step: string,
  node: Record<string, unknown>,
  args: Record<string, unknown> = {},
): Promise<Polled> {
  const posted = await client.post('clean.execute_clean_step', {
    step: { step, interface: 'deploy', priority: 0, args },
    node: { uuid: '4e4d3b8a-0c9d-4a8f-9d6a-2a6b8f1c9e11', properties: {}, instance_info: {}, driver_internal_info: {}, ...node },
    ports: [],
    clean_version: undefined,
  });
  if (posted.status !== 200) throw new Error(`POST answered ${posted.status}: ${JSON.stringify(posted.body)}`);
  const runningSnapshots: any[] = [];
  const final = await client.waitFor(posted.body.id, (body) => {
    if (body.command_status === 'RUNNING' && body.command_progress) runningSnapshots.push(body.command_progress);
  });
  return { final, runningSnapshots };
}

/** A loop device as the erase steps see it (lsblk and sysfs). */
export async function listed(path: string): Promise<BlockDevice> {
  const { ctx } = createFakeStepContext({ exec: 'real' });
  const [device] = await listBlockDevices(ctx.exec, { devices: [path] });
  if (!device) throw new Error(`lsblk does not list ${path}`);
  return device;
}

/** The metadata erase of one device as a step runs it (erase, kernel partitions, verify), with real tools. */
export async function eraseMetadata(device: BlockDevice) {
  const fake = createFakeStepContext({ exec: 'real' });
  const board = new ProgressBoard(
    fake.ctx.progress,
    'erase_devices_metadata',
    [{ path: device.path, sizeBytes: device.sizeBytes }],
    [],
  );
  const report = await eraseDevice(fake.ctx, device, { method: { kind: 'metadata' }, notUsed: [] }, board);
  return { report, fake };
}
