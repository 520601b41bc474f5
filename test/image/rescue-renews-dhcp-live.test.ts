// The rescue hand-over's DHCP watch (image/rootfs/usr/lib/ramdisk/rescue-dhcp.sh) with the real
// busybox udhcpc and udhcpd, in two network namespaces of their own (nothing is created in
// this machine's): the ramdisk's side boots with network.sh, then, while the watch runs, the
// DHCP server on one link moves to another subnet, as a port Ironic moves from the rescuing to
// the tenant network. The stub tests (rescue-renews-dhcp.test.ts) pin the decisions; this one
// pins what they rely on in udhcpc: a probe (-q -n with dhcp-probe) beside a bound udhcpc gets
// the server's current offer without touching the NIC, and a restarted udhcpc takes it.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

const UDHCPC_HOOK = join(RAMDISK_SHELL_LIB, '..', '..', 'share', 'udhcpc', 'default.script');
const NICS = { c0: '52:54:00:aa:bb:01', c1: '52:54:00:aa:bb:02' };

const cannotRun = (() => {
  if (!busybox) return 'needs busybox';
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  return undefined;
})();

describe.skipIf(cannotRun !== undefined)('the rescue DHCP watch with real udhcpc and udhcpd (network namespaces)', () => {
  const server = `rrdhcp${process.pid}s`;
  const client = `rrdhcp${process.pid}c`;
  let dir = '';
  const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
  const addressOf = (nic: string) => /inet (\S+)/.exec(ip('-n', client, '-4', '-o', 'addr', 'show', 'dev', nic))?.[1];
  let env: NodeJS.ProcessEnv = {};

  /** udhcpd on s<n> handing 10.9.<subnet>.105 to c<n>'s MAC, with 10.9.<subnet>.1 as router. */
  function startServer(n: number, subnet: number): void {
    const conf = join(dir, `udhcpd.s${n}.conf`);
    writeFileSync(
      conf,
      [
        `start 10.9.${subnet}.100`,
        `end 10.9.${subnet}.110`,
        `interface s${n}`,
        `lease_file ${join(dir, `leases.s${n}.${subnet}`)}`,
        `pidfile ${join(dir, `udhcpd.s${n}.pid`)}`,
        'option subnet 255.255.255.0',
        `option router 10.9.${subnet}.1`,
        'option lease 86400',
        `static_lease ${Object.values(NICS)[n]} 10.9.${subnet}.105`,
      ].join('\n') + '\n',
    );
    writeFileSync(join(dir, `leases.s${n}.${subnet}`), '');
    ip('-n', server, 'addr', 'flush', 'dev', `s${n}`);
    ip('-n', server, 'addr', 'add', `10.9.${subnet}.1/24`, 'dev', `s${n}`);
    spawn('ip', ['netns', 'exec', server, busybox!, 'udhcpd', '-f', conf], { stdio: 'ignore' });
  }

  function stopServer(n: number): void {
    process.kill(Number(readFileSync(join(dir, `udhcpd.s${n}.pid`), 'utf8')), 'SIGKILL');
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-rescue-dhcp-'));
    ip('netns', 'add', server);
    ip('netns', 'add', client);
    for (const [n, [nic, mac]] of Object.entries(NICS).entries()) {
      ip('-n', client, 'link', 'add', nic, 'address', mac, 'type', 'veth', 'peer', 'name', `s${n}`, 'netns', server);
      ip('-n', client, 'link', 'set', nic, 'up');
      ip('-n', server, 'link', 'set', `s${n}`, 'up');
      // network.sh configures NICs with a device (veths have none): a sysfs of its own.
      mkdirSync(join(dir, 'sys-class-net', nic, 'device'), { recursive: true });
      for (const [file, value] of Object.entries({ type: '1', address: mac, carrier: '1' })) {
        writeFileSync(join(dir, 'sys-class-net', nic, file), `${value}\n`);
      }
      startServer(n, n * 10);
    }
    mkdirSync(join(dir, 'run'));
    writeFileSync(join(dir, 'cmdline'), `BOOTIF=${NICS.c0}\n`);
    env = {
      PATH: process.env.PATH,
      SYS_NET: join(dir, 'sys-class-net'),
      RUN_DIR: join(dir, 'run'),
      UDHCPC_HOOK,
      CMDLINE: join(dir, 'cmdline'),
      INIT_LOG: join(dir, 'init.log'),
      KMSG: join(dir, 'kmsg'),
      CONSOLES: '/dev/null',
      RAMDISK_LIB: RAMDISK_SHELL_LIB,
      DNS_DIR: join(dir, 'dns'),
      RESOLV_CONF: join(dir, 'resolv.conf'),
    };
    await sleep(300); // udhcpd listening
  });

  afterAll(() => {
    for (const ns of [client, server]) {
      for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      ip('netns', 'del', ns);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts DHCP on the NIC whose server moved to another subnet and keeps the other one', async () => {
    execFileSync(
      'ip',
      ['netns', 'exec', client, busybox!, 'sh', '-c', '. "$RAMDISK_LIB/functions.sh"; parse_cmdline; setup_network'],
      {
        env,
        timeout: 60_000,
      },
    );
    expect(addressOf('c0')).toBe('10.9.0.105/24');
    for (let i = 0; i < 50 && !addressOf('c1'); i++) await sleep(100);
    expect(addressOf('c1')).toBe('10.9.10.105/24');
    const c1Udhcpc = await backgroundedPid(join(dir, 'run', 'udhcpc.c1.pid'));

    const watch = spawn(
      'ip',
      [
        'netns',
        'exec',
        client,
        busybox!,
        'sh',
        '-c',
        '. "$RAMDISK_LIB/functions.sh"; . "$RAMDISK_LIB/rescue-dhcp.sh"; renew_dhcp_for_rescue',
      ],
      { env: { ...env, RESCUE_DHCP_INTERVAL: '1', RESCUE_DHCP_WINDOW: '6' }, stdio: 'ignore' },
    );
    const ended = new Promise<number | null>((resolve) => watch.on('close', resolve));
    // A few probes see the rescuing network's answer, then the port moves.
    await sleep(2_000);
    expect(addressOf('c0')).toBe('10.9.0.105/24');
    stopServer(0);
    startServer(0, 1);
    const moved = Date.now();
    for (let i = 0; i < 100 && addressOf('c0') !== '10.9.1.105/24'; i++) await sleep(100);
    const reachableAfter = Date.now() - moved;
    expect(addressOf('c0')).toBe('10.9.1.105/24');
    expect(await ended).toBe(0);

    // The hook put the tenant network's default route in, with the NIC's boot metric.
    expect(ip('-n', client, 'route', 'show', 'default', 'dev', 'c0')).toMatch(/default via 10\.9\.1\.1 .*metric 100/);
    // c1's server did not move: same address, same udhcpc.
    expect(addressOf('c1')).toBe('10.9.10.105/24');
    expect(readFileSync(join(dir, 'run', 'udhcpc.c1.pid'), 'utf8').trim()).toBe(c1Udhcpc);
    expect(() => process.kill(Number(c1Udhcpc), 0)).not.toThrow();
    const log = readFileSync(join(dir, 'init.log'), 'utf8');
    expect(log).toMatch(/rescue: c0: DHCP now offers 10\.9\.1\.105\/24 \(it had 10\.9\.0\.105\/24\): restarting DHCP on it/);
    expect(log).toMatch(/rescue: c0 10\.9\.1\.105\/24 \(DHCP; it had 10\.9\.0\.105\/24\): ssh rescue@10\.9\.1\.105/);
    expect(log).toMatch(/rescue: c1 keeps 10\.9\.10\.105\/24 \(no other DHCP offer in 6 s\)/);
    // One probe interval (1 s here), a probe and a DHCP exchange.
    expect(reachableAfter).toBeLessThan(5_000);
  });
});

/**
 * The pid in a `udhcpc -b -p FILE` pidfile once udhcpc has gone to the background. It
 * configures the address (its hook) before it forks: the parent's pid, or an empty file while
 * the child rewrites it, is what a reader finds right after the address appears, on a busy
 * machine. The child calls setsid(), so it leads its own session (/proc/PID/stat, field 6).
 */
async function backgroundedPid(file: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const pid = readFileSync(file, 'utf8').trim();
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (pid && stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3] === pid) return pid;
    } catch {
      // the parent has just exited, or the file is being rewritten
    }
    await sleep(100);
  }
  throw new Error(`${file} never named a udhcpc in the background`);
}
