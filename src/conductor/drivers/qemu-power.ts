/**
 * The `qemu` power interface: a QEMU virtual machine as a bare-metal node. Power on starts
 * `qemu-system-*` (daemonized, so the VM outlives a conductor restart) booting from the
 * network: QEMU's iPXE option ROM takes DHCP and the boot file from QEMU's built-in TFTP
 * (`-boot n`, `-netdev user,tftp=…,bootfile=…`). Power off and reboot go through the VM's QMP
 * monitor (`quit`, `system_powerdown`, `system_reset`); the power state is whether the
 * process named in the VM's pidfile is alive. Ironic has no QEMU driver (its CI drives VMs
 * through virtualbmc/sushy-tools); the fields follow its `<driver>_<field>` naming.
 *
 * driver_info is run as given (binary, arguments), so it is administrator input, as Ironic's
 * policy makes driver_info admin-only.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { InvalidParameterValue, MissingParameterValue, PowerStateFailure } from '../errors.js';
import { type PowerState, states } from '../states.js';
import type { Task } from '../task.js';
import { PowerInterface } from './base.js';
import { missingGuestfwdProgram } from './qemu-guestfwd.js';
import { qmpCommand } from './qmp-client.js';

/** driver_info fields of the `qemu` power interface (`get_properties()`). */
export const QEMU_PROPERTIES: Record<string, { description: string; required: boolean }> = {
  qemu_state_dir: {
    description:
      'Absolute path of a directory the driver owns for this VM: qemu.pid, qmp.sock (the QMP monitor) and console.log (serial console, appended). Required.',
    required: true,
  },
  qemu_tftp_root: {
    description: "Absolute path of the directory QEMU's built-in TFTP server serves to the VM's iPXE. Required.",
    required: true,
  },
  qemu_bootfile: {
    description: 'File under qemu_tftp_root that iPXE fetches and runs (an iPXE script). Default "boot.ipxe".',
    required: false,
  },
  qemu_binary: {
    description: 'The emulator: a qemu-system-* name on PATH or an absolute path to one. Default "qemu-system-x86_64".',
    required: false,
  },
  qemu_machine: { description: 'QEMU machine type. Default "q35".', required: false },
  qemu_memory_mib: { description: 'Guest RAM in MiB. Default 512.', required: false },
  qemu_cpus: { description: 'Number of virtual CPUs. Default 2.', required: false },
  qemu_accel: {
    description:
      'Accelerator: "kvm" or "tcg". Default "kvm" when /dev/kvm is usable and the CPU has vmx/svm, else "tcg" (software emulation).',
    required: false,
  },
  qemu_mac: {
    description: "MAC address of the VM's NIC (the agent looks itself up with it). Default: the node's first port.",
    required: false,
  },
  qemu_nic_model: { description: 'QEMU NIC device. Default "virtio-net-pci".', required: false },
  qemu_netdev_options: {
    description:
      'Options appended to "-netdev user,id=net0,tftp=…,bootfile=…", e.g. "restrict=on,hostfwd=tcp:127.0.0.1:9999-:9999,guestfwd=tcp:10.0.2.100:6385-cmd:socat STDIO TCP:127.0.0.1:6385".',
    required: false,
  },
  qemu_extra_args: {
    description:
      'More QEMU arguments (disks, devices), as a JSON list of strings, e.g. ["-drive", "file=/vm/disk.qcow2,if=virtio"].',
    required: false,
  },
  qemu_soft_power_off_timeout: {
    description: 'Seconds a soft power off (ACPI power button) may take before it is reported as failed. Default 60.',
    required: false,
  },
};

interface QemuConfig {
  stateDir: string;
  tftpRoot: string;
  bootfile: string;
  binary: string;
  machine: string;
  memoryMiB: number;
  cpus: number;
  accel: 'kvm' | 'tcg';
  mac: string;
  nicModel: string;
  netdevOptions: string;
  extraArgs: string[];
  softPowerOffTimeout: number;
}

const SIMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * KVM needs /dev/kvm and CPU virtualization: some VMs have the device node without the CPU
 * flags, and QEMU then dies at start-up ("failed to set MSR").
 */
function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

function positiveInt(info: Record<string, unknown>, field: string, fallback: number): number {
  const raw = info[field];
  if (raw === undefined || raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidParameterValue(`${field} must be a positive integer, got "${String(raw)}".`);
  return value;
}

function absolutePath(info: Record<string, unknown>, field: string): string {
  const value = info[field];
  if (typeof value !== 'string' || !isAbsolute(value)) {
    // QEMU daemonizes into "/": a relative path would name another file once it runs.
    throw new InvalidParameterValue(`${field} must be an absolute path, got "${String(value)}".`);
  }
  return value;
}

function simpleOption(info: Record<string, unknown>, field: string, fallback: string): string {
  const value = info[field] ?? fallback;
  if (typeof value !== 'string' || !SIMPLE_NAME.test(value))
    throw new InvalidParameterValue(`${field} is not a valid value: "${String(value)}".`);
  return value;
}

function extraArgs(raw: unknown): string[] {
  let value = raw ?? [];
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new InvalidParameterValue('qemu_extra_args must be a JSON list of strings.');
    }
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new InvalidParameterValue('qemu_extra_args must be a JSON list of strings.');
  return value as string[];
}

/** Parse and check the node's driver_info (`_parse_driver_info`). */
export function parseQemuDriverInfo(task: Pick<Task, 'node' | 'ports'>): QemuConfig {
  const info = task.node.driverInfo as Record<string, unknown>;
  const missing = Object.entries(QEMU_PROPERTIES)
    .filter(([name, p]) => p.required && (info[name] === undefined || info[name] === null || info[name] === ''))
    .map(([name]) => name);
  if (missing.length > 0)
    throw new MissingParameterValue(`Missing the following QEMU credentials in node's driver_info: ${missing.join(', ')}.`);

  const binary = typeof info.qemu_binary === 'string' ? info.qemu_binary : 'qemu-system-x86_64';
  if (!/^qemu-system-[A-Za-z0-9_]+$/.test(basename(binary)) || (binary.includes('/') && !isAbsolute(binary)))
    throw new InvalidParameterValue(`qemu_binary must be a qemu-system-* name or an absolute path to one, got "${binary}".`);

  const accelRaw = info.qemu_accel ?? (kvmUsable() ? 'kvm' : 'tcg');
  if (accelRaw !== 'kvm' && accelRaw !== 'tcg')
    throw new InvalidParameterValue(`qemu_accel must be "kvm" or "tcg", got "${String(accelRaw)}".`);

  const mac = String(info.qemu_mac ?? task.ports[0]?.address ?? '').toLowerCase();
  if (!mac) throw new MissingParameterValue(`Node ${task.node.uuid} has no qemu_mac in driver_info and no port to take it from.`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new InvalidParameterValue(`qemu_mac is not a MAC address: "${mac}".`);

  const netdevOptions = info.qemu_netdev_options ?? '';
  if (typeof netdevOptions !== 'string' || /(^|,)(id|tftp|bootfile)=/.test(netdevOptions))
    throw new InvalidParameterValue(
      'qemu_netdev_options must be a string and cannot set id, tftp or bootfile (the driver sets them).',
    );

  const bootfile = info.qemu_bootfile ?? 'boot.ipxe';
  if (typeof bootfile !== 'string' || bootfile.includes(',') || bootfile.split('/').includes('..'))
    throw new InvalidParameterValue(`qemu_bootfile must be a file name under qemu_tftp_root, got "${String(bootfile)}".`);

  return {
    stateDir: absolutePath(info, 'qemu_state_dir'),
    tftpRoot: absolutePath(info, 'qemu_tftp_root'),
    bootfile,
    binary,
    machine: simpleOption(info, 'qemu_machine', 'q35'),
    memoryMiB: positiveInt(info, 'qemu_memory_mib', 512),
    cpus: positiveInt(info, 'qemu_cpus', 2),
    accel: accelRaw,
    mac,
    nicModel: simpleOption(info, 'qemu_nic_model', 'virtio-net-pci'),
    netdevOptions,
    extraArgs: extraArgs(info.qemu_extra_args),
    softPowerOffTimeout: positiveInt(info, 'qemu_soft_power_off_timeout', 60),
  };
}

const files = (config: QemuConfig) => ({
  pidfile: join(config.stateDir, 'qemu.pid'),
  qmp: join(config.stateDir, 'qmp.sock'),
  console: join(config.stateDir, 'console.log'),
});

/** The QEMU command line power-on runs (without the binary). */
export function qemuArguments(config: QemuConfig, name: string): string[] {
  const f = files(config);
  const netdev = [`user,id=net0,tftp=${config.tftpRoot},bootfile=${config.bootfile}`, config.netdevOptions]
    .filter(Boolean)
    .join(',');
  return [
    '-name', name.replaceAll(',', ',,'), // QEMU option syntax: a comma is written twice
    '-machine', config.machine,
    ...(config.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(config.cpus),
    '-m', String(config.memoryMiB),
    '-display', 'none',
    '-monitor', 'none',
    '-chardev', `file,id=console0,path=${f.console},append=on`,
    '-serial', 'chardev:console0',
    '-qmp', `unix:${f.qmp},server=on,wait=off`,
    '-pidfile', f.pidfile,
    '-daemonize',
    '-boot', 'order=n',
    '-netdev', netdev,
    '-device', `${config.nicModel},netdev=net0,mac=${config.mac}`,
    '-device', 'virtio-rng-pci',
    ...config.extraArgs,
  ]; // prettier-ignore
}

/** The pid of this VM's QEMU if it is running (the pidfile names a live process started with that pidfile). */
export function runningPid(stateDir: string): number | undefined {
  const pidfile = join(stateDir, 'qemu.pid');
  let pid: number;
  try {
    pid = Number(readFileSync(pidfile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A recycled pid belongs to another program: its command line does not name our pidfile.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(pidfile) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether `pid` has not finished exiting. An exiting QEMU loses its command line (so
 * `runningPid` no longer names it) before it closes its files, and so before the disk images'
 * locks are released: powering on again at that moment would fail to lock them. A zombie
 * (reparented daemons are not always reaped in containers) has released everything.
 */
function stillExiting(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

/**
 * Waits for the QEMU whose pid was read before it was told to quit: read afterwards, an
 * exiting QEMU may already have lost the command line that `runningPid` recognises it by.
 */
async function waitForExit(stateDir: string, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (runningPid(stateDir) !== undefined || stillExiting(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

function startQemu(binary: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // With -daemonize the command returns once the VM is set up; errors come before that.
    execFile(binary, args, { timeout: 60_000, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${stderr.trim() || error.message}`.slice(0, 2000)));
      else resolve();
    });
  });
}

export class QemuPower extends PowerInterface {
  getProperties(): Record<string, string> {
    return Object.fromEntries(Object.entries(QEMU_PROPERTIES).map(([k, v]) => [k, v.description]));
  }

  override validate(task: Task): void {
    parseQemuDriverInfo(task);
  }

  getPowerState(task: Task): PowerState {
    const config = parseQemuDriverInfo(task);
    return runningPid(config.stateDir) === undefined ? states.POWER_OFF : states.POWER_ON;
  }

  override getSupportedPowerStates(): PowerState[] {
    return [states.POWER_ON, states.POWER_OFF, states.REBOOT, states.SOFT_POWER_OFF];
  }

  async setPowerState(task: Task, state: PowerState, timeoutS?: number): Promise<void> {
    const config = parseQemuDriverInfo(task);
    if (state === states.POWER_ON) return this.#powerOn(task, config);
    if (state === states.POWER_OFF) return this.#powerOff(task, config);
    if (state === states.SOFT_POWER_OFF) return this.#softPowerOff(task, config, timeoutS ?? config.softPowerOffTimeout);
    throw new InvalidParameterValue(`set_power_state called with an invalid power state: ${state}.`);
  }

  /** A hard reset of a running VM (the machine boots from the network again), else power on. */
  async reboot(task: Task): Promise<void> {
    const config = parseQemuDriverInfo(task);
    if (runningPid(config.stateDir) === undefined) return this.#powerOn(task, config);
    try {
      await qmpCommand(files(config).qmp, 'system_reset');
    } catch (error) {
      throw new PowerStateFailure(`Failed to set node ${task.node.uuid} power state to rebooting: ${(error as Error).message}`);
    }
  }

  async #powerOn(task: Task, config: QemuConfig): Promise<void> {
    if (runningPid(config.stateDir) !== undefined) return;
    const f = files(config);
    if (!existsSync(join(config.tftpRoot, config.bootfile)))
      throw new PowerStateFailure(
        `Failed to power on node ${task.node.uuid}: boot file ${join(config.tftpRoot, config.bootfile)} does not exist.`,
      );
    const missing = await missingGuestfwdProgram(config.netdevOptions);
    if (missing)
      throw new PowerStateFailure(
        `Failed to power on node ${task.node.uuid}: "${missing}", which guestfwd in qemu_netdev_options runs for every guest connection, is not installed; the guest could not reach what it forwards to.`,
      );
    mkdirSync(config.stateDir, { recursive: true });
    rmSync(f.pidfile, { force: true });
    rmSync(f.qmp, { force: true });
    try {
      await startQemu(config.binary, qemuArguments(config, task.node.name ?? task.node.uuid));
    } catch (error) {
      throw new PowerStateFailure(`Failed to power on node ${task.node.uuid}: ${(error as Error).message}`);
    }
    if (runningPid(config.stateDir) === undefined)
      throw new PowerStateFailure(
        `Failed to power on node ${task.node.uuid}: QEMU exited right after it started (see ${f.console}).`,
      );
  }

  async #powerOff(task: Task, config: QemuConfig): Promise<void> {
    const pid = runningPid(config.stateDir);
    if (pid === undefined) return;
    try {
      await qmpCommand(files(config).qmp, 'quit');
    } catch (error) {
      task.conductor.log.warn({ node: task.node.uuid }, `QMP quit failed (${(error as Error).message}); terminating QEMU`);
      process.kill(pid, 'SIGTERM');
    }
    if (await waitForExit(config.stateDir, pid, 10_000)) return;
    const stuck = runningPid(config.stateDir);
    if (stuck !== undefined) process.kill(stuck, 'SIGKILL');
    if (!(await waitForExit(config.stateDir, pid, 5_000)))
      throw new PowerStateFailure(
        `Failed to set node ${task.node.uuid} power state to power off: QEMU (pid ${pid}) did not exit.`,
      );
  }

  /** ACPI power button; the guest must shut down by itself within the timeout. */
  async #softPowerOff(task: Task, config: QemuConfig, timeoutS: number): Promise<void> {
    const pid = runningPid(config.stateDir);
    if (pid === undefined) return;
    try {
      await qmpCommand(files(config).qmp, 'system_powerdown');
    } catch (error) {
      throw new PowerStateFailure(
        `Failed to set node ${task.node.uuid} power state to soft power off: ${(error as Error).message}`,
      );
    }
    if (!(await waitForExit(config.stateDir, pid, timeoutS * 1000)))
      throw new PowerStateFailure(
        `Failed to set node ${task.node.uuid} power state to soft power off: the guest did not power off within ${timeoutS} seconds.`,
      );
  }
}
