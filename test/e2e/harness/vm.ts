/**
 * The virtual machine of the e2e runs: q35 under QEMU (software emulation here), three small
 * sparse disks (virtio-blk, NVMe, SATA on q35's AHCI), user-mode networking with
 * `restrict=on` (the guest reaches only the host ports listed in `hostPorts`, at
 * 10.0.2.100:<port>, through guestfwd), the agent's port forwarded to 127.0.0.1 only, and a
 * PXE boot: iPXE takes `e2e.ipxe` from QEMU's TFTP, which chains the image's boot.ipxe over
 * HTTP with the agent's kernel parameters. Started and stopped by the `qemu` power interface
 * (driver_info below); kill() is the teardown that always works. Disks are write-through so
 * the host reads what the guest wrote (qcow2 metadata included) while the VM still runs.
 * Firmware: SeaBIOS by default; `firmware: 'uefi'` boots OVMF (Debian's `ovmf`) with a
 * private writable copy of its variable store (the VM's NVRAM, read back by the host), never
 * the host's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runningPid } from '../../../src/conductor/drivers/qemu-power.js';

export const GUEST_HOST = '10.0.2.100';
const AGENT_GUEST_PORT = 9999;
/** Debian's `ovmf` package: the firmware code (read-only) and the template of its variable store. */
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** Why a UEFI machine cannot start here, or undefined. */
export function missingOvmf(): string | undefined {
  const missing = [OVMF_CODE, OVMF_VARS_TEMPLATE].filter((f) => !existsSync(f));
  return missing.length > 0 ? `${missing.join(', ')} not found (Debian package ovmf)` : undefined;
}

export interface VmOptions {
  dir: string;
  mac: string;
  memoryMiB: number;
  /** Host ports on 127.0.0.1 the guest may open, each at GUEST_HOST:<same port>. */
  hostPorts: number[];
  /** Host port of the file server with the kernel, initramfs and boot.ipxe. */
  bootServerPort: number;
  /** Host port of the conductor's API as the guest sees it. */
  apiPort: number;
  /** Host port (127.0.0.1) forwarded to the agent's port in the guest. */
  agentPort: number;
  /** virtio and SATA disk size; every byte is overwritten by a full erase. */
  diskMiB: number;
  /** NVMe disk size: 4 GiB, the smallest root disk IPA's ramdisk waits for (erased by NVMe format, sparse on the host). */
  nvmeMiB: number;
  /** More SATA disks (raw sparse files, on AHCI ports 1…5), e.g. RAID holders. */
  extraDisks?: ExtraDisk[];
  /** More kernel parameters for the agent (after the API and advertise ones). */
  kernelParams?: string[];
  /** `bios` (SeaBIOS, the default) or `uefi` (OVMF with this VM's own variable store). */
  firmware?: 'bios' | 'uefi';
  /** An ISO attached as a CD on the next free AHCI port (Ironic's virtual media with a config drive). */
  cdrom?: string;
  /** The guest's address the agent's port is forwarded to (default: QEMU's, the DHCP lease 10.0.2.15). */
  guestAddress?: string;
  /** Host port (127.0.0.1) forwarded to the guest's SSH port 22, for the rescue user's login. */
  sshPort?: number;
}

export interface ExtraDisk {
  /** Key in `E2eVm.extraDisks` and the file's name (`<name>.raw`). */
  name: string;
  sizeMiB: number;
  serial: string;
}

/** VMs of this process: killed on the way out even when a test runner skips teardown. */
const liveVms = new Set<E2eVm>();
process.once('exit', () => {
  for (const vm of liveVms) vm.kill();
});

/**
 * QEMU daemonizes, so it outlives a test process that is killed outright (a runner's
 * timeout, Ctrl-C on the runner). A detached watchdog kills it once this process is gone,
 * and ends by itself when the run's folder is removed.
 */
function startWatchdog(stateDir: string): void {
  const pidfile = join(stateDir, 'qemu.pid');
  const script = [
    'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done',
    'pid=$(cat "$2/qemu.pid" 2>/dev/null) || exit 0',
    'tr "\\0" "\\n" <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$3" && kill -9 "$pid"',
  ].join('\n');
  spawn('sh', ['-c', script, 'e2e-vm-watchdog', String(process.pid), stateDir, pidfile], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}

export class E2eVm {
  readonly stateDir: string;
  readonly tftpDir: string;
  readonly disks: { virtio: string; nvme: string; sata: string };
  /** The extra SATA disks' raw files by name. */
  readonly extraDisks: Record<string, string> = {};
  /** UEFI only: this VM's variable store (its NVRAM), a copy of OVMF's template. */
  readonly ovmfVars: string | undefined;

  constructor(readonly options: VmOptions) {
    this.stateDir = join(options.dir, 'vm');
    this.tftpDir = join(options.dir, 'tftp');
    mkdirSync(this.stateDir, { recursive: true });
    mkdirSync(this.tftpDir, { recursive: true });
    this.disks = {
      virtio: join(options.dir, 'virtio.qcow2'),
      nvme: join(options.dir, 'nvme.qcow2'),
      sata: join(options.dir, 'sata.raw'),
    };
    if (options.firmware === 'uefi') {
      const missing = missingOvmf();
      if (missing) throw new Error(missing);
      this.ovmfVars = join(this.stateDir, 'OVMF_VARS.fd');
      copyFileSync(OVMF_VARS_TEMPLATE, this.ovmfVars);
    }
    liveVms.add(this);
    startWatchdog(this.stateDir);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', this.disks.virtio, `${options.diskMiB}M`]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', this.disks.nvme, `${options.nvmeMiB}M`]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', this.disks.sata, `${options.diskMiB}M`]);
    const extra = options.extraDisks ?? [];
    if (extra.length + (options.cdrom ? 1 : 0) > 5) throw new Error('q35 AHCI has ports for 5 extra SATA disks or CDs');
    for (const disk of extra) {
      this.extraDisks[disk.name] = join(options.dir, `${disk.name}.raw`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', this.extraDisks[disk.name]!, `${disk.sizeMiB}M`]);
    }
    const params = [
      `ipa-api-url=http://${GUEST_HOST}:${options.apiPort}`,
      // The conductor reaches the agent through the hostfwd, so that is what it advertises.
      'ipa-advertise-host=127.0.0.1',
      `ipa-advertise-port=${options.agentPort}`,
      ...(options.kernelParams ?? []),
    ];
    writeFileSync(
      join(this.tftpDir, 'e2e.ipxe'),
      [
        '#!ipxe',
        `set base-url http://${GUEST_HOST}:${options.bootServerPort}`,
        `set agent-params ${params.join(' ')}`,
        'chain ${base-url}/boot.ipxe',
        '',
      ].join('\n'),
    );
  }

  get consoleLog(): string {
    return join(this.stateDir, 'console.log');
  }

  netdevOptions(): string {
    const o = this.options;
    return [
      'restrict=on',
      `hostfwd=tcp:127.0.0.1:${o.agentPort}-${o.guestAddress ?? ''}:${AGENT_GUEST_PORT}`,
      ...(o.sshPort !== undefined ? [`hostfwd=tcp:127.0.0.1:${o.sshPort}-${o.guestAddress ?? ''}:22`] : []),
      ...o.hostPorts.map((p) => `guestfwd=tcp:${GUEST_HOST}:${p}-cmd:socat STDIO TCP:127.0.0.1:${p}`),
    ].join(',');
  }

  qemuArgs(): string[] {
    const d = this.disks;
    const drive = (file: string, id: string, format: string) =>
      `file=${file},if=none,id=${id},format=${format},discard=unmap,cache=writethrough`;
    const firmware = this.ovmfVars
      ? [
          '-drive',
          `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
          '-drive',
          `if=pflash,format=raw,unit=1,file=${this.ovmfVars}`,
          // OVMF ignores -boot order=n; a bootindex on the NIC puts PXE first on every boot,
          // ahead of the ESPs the deploy leaves on the disks.
          '-global',
          'virtio-net-pci.bootindex=0',
        ]
      : [];
    return [
      ...firmware,
      '-drive', drive(d.virtio, 'e2evirtio', 'qcow2'), '-device', 'virtio-blk-pci,drive=e2evirtio,serial=E2E-VIRTIO',
      '-drive', drive(d.nvme, 'e2envme', 'qcow2'), '-device', 'nvme,drive=e2envme,serial=E2E-NVME',
      '-drive', drive(d.sata, 'e2esata', 'raw'), '-device', 'ide-hd,drive=e2esata,bus=ide.0,serial=E2E-SATA,model=QEMU-SATA-E2E',
      ...(this.options.extraDisks ?? []).flatMap((disk, i) => [
        '-drive', drive(this.extraDisks[disk.name]!, `e2extra${i}`, 'raw'),
        '-device', `ide-hd,drive=e2extra${i},bus=ide.${i + 1},serial=${disk.serial},model=QEMU-SATA-E2E`,
      ]),
      ...(this.options.cdrom ? [
        '-drive', `file=${this.options.cdrom},if=none,id=e2ecd,format=raw,media=cdrom,readonly=on`,
        '-device', `ide-cd,drive=e2ecd,bus=ide.${(this.options.extraDisks ?? []).length + 1}`,
      ] : []),
    ]; // prettier-ignore
  }

  /** The `qemu` power interface's driver_info for this VM. */
  driverInfo(): Record<string, unknown> {
    return {
      qemu_state_dir: this.stateDir,
      qemu_tftp_root: this.tftpDir,
      qemu_bootfile: 'e2e.ipxe',
      qemu_memory_mib: this.options.memoryMiB,
      qemu_cpus: 2,
      qemu_mac: this.options.mac,
      qemu_netdev_options: this.netdevOptions(),
      qemu_extra_args: this.qemuArgs(),
    };
  }

  /** When the running QEMU wrote its pidfile (its start), or undefined when it is off. */
  startedAt(): number | undefined {
    if (runningPid(this.stateDir) === undefined) return undefined;
    try {
      return statSync(join(this.stateDir, 'qemu.pid')).mtimeMs;
    } catch {
      return undefined;
    }
  }

  running(): boolean {
    return runningPid(this.stateDir) !== undefined;
  }

  consoleTail(lines = 40): string {
    try {
      return readFileSync(this.consoleLog, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no console output)';
    }
  }

  /** Teardown: end QEMU whatever state it is in. */
  kill(): void {
    const pid = runningPid(this.stateDir);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  }

  /** Kill QEMU and remove everything of the run (the VM's folder's parent is the run's). */
  remove(): void {
    this.kill();
    liveVms.delete(this);
    rmSync(dirname(this.options.dir), { recursive: true, force: true });
  }
}
