/**
 * Runs a scenario script (test/fixtures/private-network/, through tsx) in a network and mount
 * namespace of its own, for what a test cannot do to this machine's network: give an
 * interface its address late, resolve a name to both 127.0.0.1 and ::1. There the loopback is
 * up and a veth pair agent0/peer0 (no addresses) gives the agent a MAC address to look the
 * node up with: as IPA, the agent lists only NICs with a `device` link in /sys/class/net, which
 * a veth lacks (and this kernel has no other virtual NIC), so the namespace sees a tmpfs
 * /sys/class/net holding agent0/device. `hosts` replaces /etc/hosts. All of it (mounts
 * included: unshare makes them private) goes away with the script's process, which prints
 * one JSON line, its result.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './standalone-agent-process.js';

export async function runInPrivateNetwork(
  scenario: string,
  options: { hosts?: string; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-netns-'));
  try {
    const setup = [
      'set -e',
      'ip link set lo up',
      'ip link add agent0 type veth peer name peer0',
      'ip link set agent0 up',
      'ip link set peer0 up',
      'mount -t tmpfs sysnet /sys/class/net',
      'mkdir -p /sys/class/net/agent0/device',
    ];
    if (options.hosts !== undefined) {
      writeFileSync(join(dir, 'hosts'), options.hosts);
      setup.push(`mount --bind ${join(dir, 'hosts')} /etc/hosts`);
    }
    setup.push(`exec node --import tsx ${join(REPO, 'test', 'fixtures', 'private-network', scenario)}`);
    const { stdout } = await promisify(execFile)('unshare', ['--net', '--mount', 'sh', '-c', setup.join('\n')], {
      cwd: REPO,
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
