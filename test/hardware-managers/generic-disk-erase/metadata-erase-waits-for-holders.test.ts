// After a metadata erase the step waits, as IPA does with fuser, until no other process
// holds the disk or one of its partitions open (udev's probes, set off by the writes), before
// the kernel is asked to drop the partitions. Real loop devices; a shell holds one open.
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { dropPartitions, eraseMetadata, listed, partition } from './helpers.js';

const scratch = new ScratchDevices();
afterEach(() => {
  dropPartitions();
  scratch.cleanup();
});

const asRoot = it.runIf(process.getuid?.() === 0);

describe('the metadata erase, as IPA with fuser', () => {
  for (const held of ['the disk', 'one of its partitions'] as const) {
    asRoot(`waits until no other process holds ${held} open`, async () => {
      const disk = scratch.create({ sizeMiB: 8, randomMiB: 8 });
      partition(disk, ['-n1:0:+4M']);
      const device = await listed(disk.path);
      const heldPath = held === 'the disk' ? disk.path : `${disk.path}p1`;
      const holder = spawn('sh', ['-c', `exec 3<${heldPath}; sleep 0.5`], { stdio: 'ignore' });
      const exited = new Promise((resolve) => holder.on('exit', resolve));
      try {
        // Until the shell has the device open.
        for (let i = 0; i < 200; i++) {
          const fds = readdirSync(`/proc/${holder.pid}/fd`).map((fd) => readlinkOr(`/proc/${holder.pid}/fd/${fd}`));
          if (fds.includes(heldPath)) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        const started = performance.now();
        const { report } = await eraseMetadata(device);
        const waited = performance.now() - started;

        expect(report.verify.passed).toBe(true);
        // The holder lets go after 0.5 s; the erase itself takes tens of milliseconds.
        expect(waited).toBeGreaterThan(300);
        expect(holder.exitCode).not.toBeNull();
      } finally {
        holder.kill();
        await exited;
      }
    });
  }
});

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
