/**
 * `udevadm info --query=property` of every block device and partition, as IPA puts them in
 * the log bundle (`udev/<kname>`): serials, WWNs, by-path links and the driver's view, which
 * is what an operator needs when a disk was skipped or not found.
 */
import { listBlockDevices } from './block-devices.js';
import { hasCommand } from './exec.js';
import type { Exec } from './step-context.js';

export interface UdevDump {
  /** Kernel name (`sda`, `nvme0n1p1`). */
  name: string;
  properties: Record<string, string> | { error: string };
}

function parseUdevProperties(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

export async function blockDeviceUdevProperties(exec: Exec): Promise<UdevDump[]> {
  if (!(await hasCommand('udevadm'))) return [];
  const devices = await listBlockDevices(exec).catch(() => []);
  const all = devices.flatMap((d) => [d, ...d.partitions]);
  return Promise.all(
    all.map(async (device): Promise<UdevDump> => {
      try {
        const { stdout } = await exec('udevadm', ['info', '--query=property', `--name=${device.path}`], {
          timeoutMs: 10_000,
          quiet: true,
        });
        return { name: device.name, properties: parseUdevProperties(stdout) };
      } catch (error) {
        return { name: device.name, properties: { error: String(error) } };
      }
    }),
  );
}
