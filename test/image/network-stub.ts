/**
 * Runs the ramdisk's network set-up (setup_network in image/rootfs/usr/lib/ramdisk/network.sh)
 * with busybox sh over a stub machine: a sysfs of NICs whose carrier comes up at a given
 * tick, block devices for the config drive search, and shell functions standing in for `ip`,
 * `udhcpc`, `kill`, `sleep`, `blkid`, `lsblk`, `mount`, `umount` and `modprobe` (network-stubs.sh;
 * `sleep` is the clock, in ticks of 0.2 s). network-data.mjs runs in this node. The machine's
 * state stays for what follows the boot (rescue-stub.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

export const STUBS = join(import.meta.dirname, 'network-stubs.sh');

export interface StubNic {
  mac: string;
  /** The tick (0.2 s each) at which the link comes up; 0 = up from the start; undefined = never (no cable). */
  carrierAt?: number;
  /** The address a DHCP server on its link gives, e.g. '192.0.2.10/24'; undefined = no server. */
  lease?: string;
}

/** A block device of the stub machine, /dev/<name>, as blkid and `lsblk -s` describe it. */
export interface StubMedia {
  /** blkid's export block without DEVNAME, e.g. 'LABEL=config-2\nTYPE=iso9660'. */
  blkid: string;
  /** `lsblk -n -s -P -b -oKNAME,TRAN,TYPE,SIZE` of it. */
  lsblk: string;
  /** Its ISO publisher ID (blkid -p). */
  publisher?: string;
  /** What mounting it shows, path -> content; undefined: it does not mount. */
  files?: Record<string, string>;
}

interface NetworkRun {
  /** Ticks of 0.2 s setup_network slept before it returned. */
  ticks: number;
  /** udhcpc's arguments per NIC it was started on, with METRIC=<n> first. */
  udhcpc: Record<string, string>;
  /** The tick at which each NIC got its lease. */
  leasedAt: Record<string, number>;
  /** Every `ip` command run, one a line. */
  ip: string[];
  /** /var/log/ramdisk-init.log. */
  log: string;
  /** /etc/resolv.conf ('' when none was written). */
  resolvConf: string;
  /** What `hostname` was given ('' when it was not run). */
  hostname: string;
  /** mount and umount commands run, one a line; the test's folder is written $TMP. */
  mounts: string[];
  /** modprobe's arguments, one call a line. */
  modprobe: string[];
  /** blkid and lsblk commands run (the config drive search), one a line. */
  probes: string[];
}

/** A stub machine: its folders, and the environment its shell code runs with. */
export interface StubMachine {
  dir: string;
  /** The machine's state (network-stubs.sh). */
  t: string;
  /** Its /run. */
  runDir: string;
  /** /var/log/ramdisk-init.log. */
  log: string;
  env: NodeJS.ProcessEnv;
}

/** A machine with `nics` and `media` booting with `cmdline`, in a folder removeStubMachine removes. */
export function createStubMachine(
  cmdline: string,
  nics: Record<string, StubNic>,
  media: Record<string, StubMedia> = {},
): StubMachine {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-net-'));
  const sysNet = join(dir, 'sys-class-net');
  const t = join(dir, 't');
  const runDir = join(dir, 'run');
  mkdirSync(t);
  mkdirSync(runDir);
  for (const [name, nic] of Object.entries(nics)) {
    mkdirSync(join(sysNet, name, 'device'), { recursive: true });
    writeFileSync(join(sysNet, name, 'type'), '1\n');
    writeFileSync(join(sysNet, name, 'address'), `${nic.mac}\n`);
    writeFileSync(join(sysNet, name, 'carrier'), nic.carrierAt === 0 ? '1\n' : '0\n');
    if (nic.carrierAt) writeFileSync(join(t, `carrier-at.${name}`), `${nic.carrierAt}\n`);
    if (nic.lease) writeFileSync(join(t, `offers.${name}`), `0 ${nic.lease}\n`);
  }
  for (const [name, device] of Object.entries(media)) {
    const m = join(t, 'media', name);
    mkdirSync(m, { recursive: true });
    writeFileSync(join(m, 'blkid'), `DEVNAME=/dev/${name}\n${device.blkid}\n`);
    writeFileSync(join(m, 'lsblk'), `${device.lsblk}\n`);
    if (device.publisher !== undefined) writeFileSync(join(m, 'publisher'), `${device.publisher}\n`);
    for (const [path, content] of Object.entries(device.files ?? {})) {
      mkdirSync(dirname(join(m, 'root', path)), { recursive: true });
      writeFileSync(join(m, 'root', path), content);
    }
    if (device.files) mkdirSync(join(m, 'root'), { recursive: true });
  }
  // A virtual interface, which is never configured (no device link).
  mkdirSync(join(sysNet, 'lo'));
  writeFileSync(join(sysNet, 'lo', 'type'), '772\n');
  const cmdlineFile = join(dir, 'cmdline');
  const log = join(dir, 'init.log');
  writeFileSync(cmdlineFile, `${cmdline}\n`);
  writeFileSync(log, '');
  const env = {
    PATH: process.env.PATH,
    T: t,
    SYS_NET: sysNet,
    RUN_DIR: runDir,
    CMDLINE: cmdlineFile,
    INIT_LOG: log,
    KMSG: '/dev/null',
    CONSOLES: '/dev/null',
    RAMDISK_LIB: RAMDISK_SHELL_LIB,
    DNS_DIR: join(dir, 'dns'),
    RESOLV_CONF: join(dir, 'resolv.conf'),
    CONFIG_DRIVE_MNT: join(dir, 'config-drive'),
    NODE: process.execPath,
  };
  return { dir, t, runDir, log, env };
}

export function removeStubMachine(machine: StubMachine): void {
  rmSync(machine.dir, { recursive: true, force: true });
}

export const lines = (path: string): string[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
    : [];
const text = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

/** Throws what a stub found wrong (a command it did not expect). */
export function stubErrors(machine: StubMachine): void {
  if (existsSync(join(machine.t, 'errors'))) throw new Error(readFileSync(join(machine.t, 'errors'), 'utf8'));
}

/** Boots the network part of /init (parse_cmdline, setup_network) on the machine. */
export function bootStubMachine(machine: StubMachine): NetworkRun {
  if (!busybox) throw new Error('no busybox');
  const { t, dir } = machine;
  const stdout = execFileSync(
    busybox,
    ['sh', '-c', `. "$RAMDISK_LIB/functions.sh"; . "${STUBS}"; parse_cmdline; setup_network; echo "ticks=$TICK"`],
    { encoding: 'utf8', env: machine.env, timeout: 60_000 },
  );
  const ticks = Number(/ticks=(\d+)/.exec(stdout)?.[1]);
  const udhcpc: Record<string, string> = {};
  const leasedAt: Record<string, number> = {};
  for (const file of readdirSync(t)) {
    // udhcpc.<interface>, whose name may hold a dot (a VLAN: eth0.100)
    const kind = file.slice(0, file.indexOf('.'));
    const name = file.slice(file.indexOf('.') + 1);
    if (kind === 'udhcpc') udhcpc[name] = readFileSync(join(t, file), 'utf8').trim();
  }
  for (const lease of lines(join(t, 'leases.log'))) {
    const [nic, tick] = lease.split(' ');
    leasedAt[nic!] ??= Number(tick);
  }
  stubErrors(machine);
  return {
    ticks,
    udhcpc,
    leasedAt,
    ip: lines(join(t, 'ip.log')),
    log: readFileSync(machine.log, 'utf8'),
    resolvConf: text(join(dir, 'resolv.conf')),
    hostname: text(join(t, 'hostname')).trim(),
    mounts: lines(join(t, 'mount.log')).map((line) => line.replaceAll(dir, '$TMP')),
    modprobe: lines(join(t, 'modprobe.log')),
    probes: lines(join(t, 'probes.log')),
  };
}

/** Boots the network part of /init with `cmdline` on a machine with `nics`. */
export function runSetupNetwork(
  cmdline: string,
  nics: Record<string, StubNic>,
  media: Record<string, StubMedia> = {},
): NetworkRun {
  const machine = createStubMachine(cmdline, nics, media);
  try {
    return bootStubMachine(machine);
  } finally {
    removeStubMachine(machine);
  }
}
