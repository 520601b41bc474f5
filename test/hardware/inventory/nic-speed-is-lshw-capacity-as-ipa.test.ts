/**
 * `speed_mbps` is what IPA reports: lshw's `capacity` of the interface (the fastest link mode
 * the NIC supports) in Mbit/s, not the speed the link runs at now. The lshw outputs are real:
 * IPA's captured samples of two servers and this machine's own run (test/fixtures/inventory/
 * README.md); /sys is a test tree with what the kernel shows for a 1 Gbit/s NIC whose link
 * came up at 100 Mbit/s, or is down.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand, run, type Exec } from '../../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';
import { collectNicSpeeds, nicSpeedsFromLshw } from '../../../src/hardware/inventory/nic-speed.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const fixture = (...parts: string[]) => readFile(join(FIXTURES, ...parts), 'utf8');

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

/** /sys/class/net/eth0 of a PCI NIC whose current speed the kernel gives as `speed`. */
async function sysWithEth0(speed: string): Promise<string> {
  root = await mkdtemp(join(tmpdir(), 'sys-net-'));
  const dir = join(root, 'class', 'net', 'eth0');
  await mkdir(join(dir, 'device'), { recursive: true });
  await writeFile(join(dir, 'device', 'vendor'), '0x8086\n');
  await writeFile(join(dir, 'carrier'), speed === '-1' ? '0\n' : '1\n');
  await writeFile(join(dir, 'speed'), `${speed}\n`);
  return root;
}

/** `ip` answers with this machine's captured output, lshw with IPA's V2 sample (eth0: capacity 1 Gbit/s). */
async function eth0With(sysSpeed: string) {
  const ip = await fixture('inventory', 'ip-addr-kvm.json');
  const lshw = await fixture('inventory', 'ipa-lshw-v2.json');
  const exec: Exec = async (file, args = []) => ({
    command: [file, ...args].join(' '),
    exitCode: 0,
    stdout: file === 'lshw' ? lshw : ip,
    stderr: '',
    durationMs: 0,
  });
  const interfaces = await listNetworkInterfaces({ exec, sysRoot: await sysWithEth0(sysSpeed), hasLshw: true });
  expect(interfaces.map((i) => i.name)).toEqual(['eth0']);
  return interfaces[0]!;
}

describe('speed_mbps in the inventory', () => {
  it('is the NIC capacity lshw reports, also when the link runs slower or is down', async () => {
    expect((await eth0With('100')).speed_mbps).toBe(1000);
    expect((await eth0With('-1')).speed_mbps).toBe(1000);
  });

  it("reads IPA's samples as IPA does: capacity in Mbit/s, null without one", async () => {
    const v2 = nicSpeedsFromLshw(await fixture('inventory', 'ipa-lshw-v2.json'));
    expect(Object.fromEntries(v2)).toEqual({ wlp0s20f3: null, eth0: 1000 });
    // V1's ovs-tap has only a size (its current 10 Gbit/s): IPA reports no speed for it.
    const v1 = nicSpeedsFromLshw(await fixture('inspection', 'ipa-lshw-v1.json'));
    expect(Object.fromEntries(v1)).toEqual({ 'ovs-tap': null });
  });

  it('reads the list `lshw -C network` prints (a virtio NIC has no capacity: null)', async () => {
    const speeds = nicSpeedsFromLshw(await fixture('inventory', 'lshw-network-kvm.json'));
    expect(Object.fromEntries(speeds)).toEqual({ eth0: null });
  });

  it.skipIf(process.getuid?.() !== 0)('the scans the agent skips change no network node of a full lshw run here', async () => {
    if (!(await hasCommand('lshw'))) return;
    const [full, skipped] = await Promise.all([
      run('lshw', ['-quiet', '-json'], { quiet: true }).then(({ stdout }) => nicSpeedsFromLshw(stdout)),
      collectNicSpeeds(run),
    ]);
    // Other tests add and remove virtual interfaces meanwhile: compare the physical NICs.
    const physical = [...full.keys()].filter((name) => existsSync(`/sys/class/net/${name}/device`));
    expect(physical.length).toBeGreaterThan(0);
    for (const name of physical) {
      expect(skipped.has(name)).toBe(true);
      expect(skipped.get(name)).toBe(full.get(name));
    }
  });
});
