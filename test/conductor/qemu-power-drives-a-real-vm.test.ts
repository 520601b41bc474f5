/**
 * The `qemu` power interface against a real QEMU (software emulation, no disks): power on
 * boots the VM from the network (iPXE takes boot.ipxe from QEMU's TFTP, which fetches a URL
 * from this test's HTTP server through a guestfwd), reboot boots it again, power off ends the
 * process; a soft power off the guest ignores fails after its timeout. driver_info mistakes
 * are refused at `manage` with Ironic's messages.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { runConductorCommand } from '../../src/conductor/cli/conductor-command.js';
import { guestfwdPrograms } from '../../src/conductor/drivers/qemu-guestfwd.js';
import { QemuPower, qemuArguments, parseQemuDriverInfo, runningPid } from '../../src/conductor/drivers/qemu-power.js';
import { states } from '../../src/conductor/states.js';
import type { Task } from '../../src/conductor/task.js';
import { silentLogger } from '../../src/shared/logger.js';
import { freePort } from '../interop/harness/free-port.js';
import { type RunningConductor, startConductor } from './helpers.js';

const MAC = '52:54:00:7e:57:01';
let dir = '';
let running: RunningConductor | undefined;
let server: Server | undefined;
const pxeRequests: string[] = [];
let httpPort = 0;

beforeAll(async () => {
  httpPort = await freePort();
  server = createServer((req, res) => {
    pxeRequests.push(decodeURIComponent(req.url ?? ''));
    // Back to the BIOS, which finds nothing else to boot and idles.
    res.end('#!ipxe\nexit\n');
  });
  await new Promise<void>((resolve) => server!.listen(httpPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

function vmDir(): { state: string; tftp: string } {
  dir ||= mkdtempSync(join(tmpdir(), 'qemu-power-'));
  const state = join(dir, 'vm');
  const tftp = join(dir, 'tftp');
  mkdirSync(tftp, { recursive: true });
  // iPXE runs this after DHCP + TFTP; the URL proves the VM booted from the network.
  writeFileSync(join(tftp, 'boot.ipxe'), `#!ipxe\nchain http://10.0.2.100:${httpPort}/pxe/\${mac}\n`);
  return { state, tftp };
}

afterEach(async () => {
  // Never leave a VM behind, whatever the test did.
  if (dir) {
    const pid = runningPid(join(dir, 'vm'));
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    dir = '';
  }
  await running?.close();
  running = undefined;
});

function driverInfo(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { state, tftp } = vmDir();
  return {
    qemu_state_dir: state,
    qemu_tftp_root: tftp,
    qemu_memory_mib: 128,
    qemu_cpus: 1,
    qemu_accel: 'tcg',
    qemu_netdev_options: `restrict=on,guestfwd=tcp:10.0.2.100:${httpPort}-cmd:socat STDIO TCP:127.0.0.1:${httpPort}`,
    ...extra,
  };
}

/** Alive and not a zombie (a daemonized QEMU's parent is init, which may reap it late). */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('qemu power interface', () => {
  it('powers a VM on (network boot), reboots it (boots again) and powers it off', { timeout: 400_000 }, async () => {
    running = await startConductor();
    const { conductor } = running;
    const node = conductor.createNode({ name: 'vm1', interfaces: { power: 'qemu' }, driverInfo: driverInfo(), ports: [MAC] });
    await conductor.provision(node.uuid, 'manage');
    expect(conductor.store.getNode(node.uuid).provisionState).toBe(states.MANAGEABLE);

    pxeRequests.length = 0;
    await conductor.setPowerState(node.uuid, 'power on');
    expect(conductor.store.getNode(node.uuid).powerState).toBe(states.POWER_ON);
    const pid = runningPid(join(dir, 'vm'));
    expect(pid).toBeGreaterThan(0);
    await until('the VM to boot from the network', () => pxeRequests.length >= 1, 180_000);
    expect(pxeRequests[0]).toBe(`/pxe/${MAC}`);

    await conductor.setPowerState(node.uuid, 'rebooting');
    await until('the VM to boot from the network again', () => pxeRequests.length >= 2, 180_000);
    expect(runningPid(join(dir, 'vm'))).toBe(pid); // a reset, not a new process

    await conductor.setPowerState(node.uuid, 'power off');
    expect(runningPid(join(dir, 'vm'))).toBeUndefined();
    expect(processAlive(pid!)).toBe(false);
    expect(conductor.store.getNode(node.uuid).powerState).toBe(states.POWER_OFF);
  });

  it('reports a soft power off the guest ignores, then powers off hard', { timeout: 60_000 }, async () => {
    const power = new QemuPower();
    const task = {
      node: { uuid: 'n1', name: null, driverInfo: driverInfo({ qemu_extra_args: '["-S"]', qemu_soft_power_off_timeout: 1 }) },
      ports: [{ uuid: 'p1', nodeUuid: 'n1', address: MAC }],
      conductor: { log: silentLogger },
    } as unknown as Task;
    await power.setPowerState(task, states.POWER_ON);
    expect(await power.getPowerState(task)).toBe(states.POWER_ON);
    // A paused CPU (-S) never handles the ACPI power button.
    await expect(power.setPowerState(task, states.SOFT_POWER_OFF)).rejects.toThrow(
      'Failed to set node n1 power state to soft power off: the guest did not power off within 1 seconds.',
    );
    expect(await power.getPowerState(task)).toBe(states.POWER_ON);
    await power.setPowerState(task, states.POWER_OFF);
    expect(await power.getPowerState(task)).toBe(states.POWER_OFF);
  });

  it('refuses to power on when a program guestfwd runs is not installed, and starts no VM', async () => {
    const power = new QemuPower();
    const forwards = {
      'no-such-forwarder': 'guestfwd=tcp:10.0.2.100:6385-cmd:no-such-forwarder STDIO TCP:127.0.0.1:6385',
      // The first forward's program is installed; the second names a path that does not exist.
      '/nonexistent/socat': 'guestfwd=tcp:10.0.2.100:1-cmd:sh -c true,guestfwd=tcp:10.0.2.100:2-cmd:/nonexistent/socat STDIO',
    };
    for (const [missing, netdev] of Object.entries(forwards)) {
      const task = {
        node: { uuid: 'n2', name: null, driverInfo: driverInfo({ qemu_netdev_options: `restrict=on,${netdev}` }) },
        ports: [{ uuid: 'p2', nodeUuid: 'n2', address: MAC }],
        conductor: { log: silentLogger },
      } as unknown as Task;
      await expect(power.setPowerState(task, states.POWER_ON)).rejects.toThrow(
        `Failed to power on node n2: "${missing}", which guestfwd in qemu_netdev_options runs for every guest connection, is not installed; the guest could not reach what it forwards to.`,
      );
      expect(runningPid(join(dir, 'vm'))).toBeUndefined();
      expect(await power.getPowerState(task)).toBe(states.POWER_OFF);
    }
  });

  it('reads the program of each guestfwd command as QEMU and libslirp do: ",," escapes, shell quotes', () => {
    const options = [
      'restrict=on',
      'guestfwd=tcp:10.0.2.100:1-cmd:socat STDIO TCP:127.0.0.1:1',
      "guestfwd=tcp:10.0.2.100:2-cmd:'/opt/fwd tools/socat' STDIO",
      'guestfwd=tcp:10.0.2.100:3-cmd:"nc" 127.0.0.1 3',
      'guestfwd=tcp:10.0.2.100:4-cmd:/opt/a,,b/relay --to 4',
      'hostfwd=tcp:127.0.0.1:9999-:9999',
      "guestfwd=tcp:10.0.2.100:5-cmd:'unterminated",
    ].join(',');
    expect(guestfwdPrograms(options)).toEqual(['socat', '/opt/fwd tools/socat', 'nc', '/opt/a,b/relay']);
  });

  it('refuses incomplete or unsafe driver_info when the node is managed', async () => {
    running = await startConductor();
    const { conductor } = running;
    const missing = conductor.createNode({ interfaces: { power: 'qemu' }, driverInfo: {}, ports: ['52:54:00:7e:57:02'] });
    await expect(conductor.provision(missing.uuid, 'manage')).rejects.toThrow(
      "Missing the following QEMU credentials in node's driver_info: qemu_state_dir, qemu_tftp_root.",
    );
    const relative = conductor.createNode({
      interfaces: { power: 'qemu' },
      driverInfo: { qemu_state_dir: 'vm', qemu_tftp_root: '/srv/tftp' },
      ports: ['52:54:00:7e:57:03'],
    });
    await expect(conductor.provision(relative.uuid, 'manage')).rejects.toThrow(
      'qemu_state_dir must be an absolute path, got "vm".',
    );
    const binary = conductor.createNode({
      interfaces: { power: 'qemu' },
      driverInfo: { qemu_state_dir: '/vm', qemu_tftp_root: '/srv/tftp', qemu_binary: '/bin/sh' },
      ports: ['52:54:00:7e:57:04'],
    });
    await expect(conductor.provision(binary.uuid, 'manage')).rejects.toThrow('qemu_binary must be a qemu-system-* name');
    expect(conductor.store.getNode(binary.uuid).provisionState).toBe(states.ENROLL);

    // The CLI a user enrolls a VM with.
    let out = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        out += String(chunk);
        done();
      },
    });
    const argv = ['enroll', '--name', 'vm2', '--power-interface', 'qemu', '--mac', '52:54:00:7e:57:05'];
    argv.push('--driver-info', 'qemu_state_dir=/var/lib/vm2', '--driver-info', 'qemu_tftp_root=/srv/tftp');
    expect(await runConductorCommand([...argv, '--url', running.url], sink)).toBe(0);
    expect(conductor.store.getNode(out.trim())).toMatchObject({
      interfaces: { power: 'qemu' },
      provisionState: states.MANAGEABLE,
      driverInfo: { qemu_state_dir: '/var/lib/vm2' },
    });
  });

  it('builds a network-boot command line from driver_info and the first port', () => {
    const config = parseQemuDriverInfo({
      node: { uuid: 'n1', driverInfo: { qemu_state_dir: '/vm', qemu_tftp_root: '/tftp', qemu_accel: 'tcg' } },
      ports: [{ uuid: 'p', nodeUuid: 'n1', address: '52:54:00:AA:BB:CC' }],
    } as unknown as Task);
    const args = qemuArguments(config, 'a,b');
    expect(args.join(' ')).toContain('-name a,,b -machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m 512');
    expect(args.join(' ')).toContain(
      '-boot order=n -netdev user,id=net0,tftp=/tftp,bootfile=boot.ipxe -device virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc',
    );
    expect(args).toContain('-daemonize');
  });
});
