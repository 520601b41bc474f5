/**
 * Slows the writes to a scratch loop device with the kernel's block throttle (cgroup v1
 * `blkio.throttle.write_bps_device` of the root group, which every process here is in), so
 * that an erase runs long enough for a test to abort it half-way, as a real disk would.
 * Only a loop device a test made may be throttled; the rule is removed by `release()`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ScratchDevice } from './loop-devices.js';

const THROTTLE_FILE = '/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device';

export function canThrottleWrites(): boolean {
  if (process.getuid?.() !== 0 || !existsSync(THROTTLE_FILE)) return false;
  try {
    readFileSync(THROTTLE_FILE, 'utf8');
    return true;
  } catch {
    return false;
  }
}

export interface WriteThrottle {
  release(): void;
}

export function throttleWrites(device: ScratchDevice, bytesPerSecond: number): WriteThrottle {
  if (!device.isLoop || !basename(device.path).startsWith('loop')) {
    throw new Error(`only a scratch loop device may be throttled, not ${device.path}`);
  }
  const majMin = readFileSync(`/sys/class/block/${basename(device.path)}/dev`, 'utf8').trim();
  writeFileSync(THROTTLE_FILE, `${majMin} ${bytesPerSecond}`);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      // 0 removes the rule.
      writeFileSync(THROTTLE_FILE, `${majMin} 0`);
    },
  };
}
