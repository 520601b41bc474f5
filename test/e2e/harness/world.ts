/**
 * One e2e run's world: a private copy of the ramdisk, the host servers the guest may reach
 * (API watch, file server, image proxy), the VM with seeded disks, and the timeline. Both
 * scenarios build it the same way; teardown kills QEMU first, whatever else fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoImage } from '../../../src/conductor/cli/demo/demo-image.js';
import { freePort } from '../../interop/harness/free-port.js';
import { seedDisk } from './disk-check.js';
import { copyImage, imageSizes, missingImage } from './image-files.js';
import { ApiWatch, imageProxy, type Listening, serveDirectory } from './servers.js';
import { Timeline } from './timeline.js';
import { type GrubImage, type GrubRootFs, writeGrubImage, writeGrubRootFs } from './grub-image.js';
import { type UefiImage, writeUefiImage } from './uefi-image.js';
import { E2eVm, type ExtraDisk, GUEST_HOST } from './vm.js';
import { type ConfigDrive, writeConfigDriveIso } from './config-drive-iso.js';

const GUEST_RAM_MIB = 512;
const DISK_MIB = 32;
const NVME_MIB = 4096;
const IMAGE_MIB = 24;
export const E2E_MAC = '52:54:00:e2:e0:01';

/** What a scenario may change in the world; every field optional, the defaults are the common machine. */
export interface WorldOptions {
  /** Another ramdisk build (default: RAMDISK_AGENT_IMAGE_DIR or dist/image). */
  imageDir?: string;
  memoryMiB?: number;
  extraDisks?: ExtraDisk[];
  kernelParams?: string[];
  /** More host ports on 127.0.0.1 the guest may open (at GUEST_HOST:<port>), e.g. an inspector. */
  hostPorts?: number[];
  /** `uefi`: OVMF instead of SeaBIOS. */
  firmware?: 'bios' | 'uefi';
  /** A virtual CD labelled config-2 with this network_data.json, as Ironic's virtual media ISO (config-drive-iso.ts). */
  configDrive?: ConfigDrive;
  /** The guest's address the agent's port is forwarded to, when it is not the DHCP lease. */
  guestAddress?: string;
  /** Forward a free 127.0.0.1 port to the guest's SSH port 22 (`vm.options.sshPort`). */
  ssh?: boolean;
}

export interface DeployImage {
  file: string;
  /** What the guest downloads (a URL on 127.0.0.1, reached through the image proxy). */
  url: string;
  /** sha256 of the file as served. */
  sha256: string;
  /** The bytes the disk must hold afterwards (the raw data, also for a qcow2). */
  raw: { file: string; sizeBytes: number; sha256: string };
}

/** Why the e2e scenarios are skipped here, or undefined; RAMDISK_AGENT_E2E=required turns a reason into a failure. */
export function e2eSkipReason(extra?: string): string | undefined {
  const reason = missingImage() ?? extra;
  if (reason && process.env.RAMDISK_AGENT_E2E === 'required') throw new Error(`RAMDISK_AGENT_E2E=required but ${reason}`);
  if (reason) process.stderr.write(`[e2e] skipped: ${reason}\n`);
  return reason;
}

export class E2eWorld {
  private constructor(
    readonly dir: string,
    readonly vm: E2eVm,
    readonly watch: ApiWatch,
    readonly files: Listening,
    readonly proxy: Listening,
    readonly timeline: Timeline,
    /** Where the API watch forwards (the conductor's port on 127.0.0.1). */
    readonly apiPort: number,
    readonly memoryMiB: number,
  ) {}

  static async create(label: string, apiPort: number, options: WorldOptions = {}): Promise<E2eWorld> {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
    copyImage(join(dir, 'www'), options.imageDir);
    const memoryMiB = options.memoryMiB ?? GUEST_RAM_MIB;
    const watch = await ApiWatch.start(() => `http://127.0.0.1:${apiPort}`);
    const files = await serveDirectory(join(dir, 'www'));
    const proxy = await imageProxy(files.port);
    const vm = new E2eVm({
      dir: join(dir, 'machine'),
      mac: E2E_MAC,
      memoryMiB,
      hostPorts: [watch.listening.port, files.port, proxy.port, ...(options.hostPorts ?? [])],
      bootServerPort: files.port,
      apiPort: watch.listening.port,
      agentPort: await freePort(),
      diskMiB: DISK_MIB,
      nvmeMiB: NVME_MIB,
      ...(options.extraDisks ? { extraDisks: options.extraDisks } : {}),
      ...(options.kernelParams ? { kernelParams: options.kernelParams } : {}),
      ...(options.firmware ? { firmware: options.firmware } : {}),
      ...(options.configDrive ? { cdrom: writeConfigDriveIso(join(dir, 'config-drive.iso'), options.configDrive) } : {}),
      ...(options.guestAddress ? { guestAddress: options.guestAddress } : {}),
      ...(options.ssh ? { sshPort: await freePort() } : {}),
    });
    // A previous tenant's data on every disk.
    seedDisk(vm.disks.virtio, 'qcow2', DISK_MIB);
    seedDisk(vm.disks.nvme, 'qcow2', DISK_MIB);
    seedDisk(vm.disks.sata, 'raw', DISK_MIB);
    return new E2eWorld(dir, vm, watch, files, proxy, new Timeline(label, vm, watch), apiPort, memoryMiB);
  }

  /** The URL the guest's agent uses for the conductor's API (through the watch). */
  get guestApiUrl(): string {
    return `http://${GUEST_HOST}:${this.watch.listening.port}`;
  }

  get guestProxyUrl(): string {
    return `http://${GUEST_HOST}:${this.proxy.port}`;
  }

  /** A fresh whole-disk image (MBR + random data) served as raw or qcow2. */
  image(name: string, format: 'raw' | 'qcow2'): DeployImage {
    const raw = writeDemoImage(join(this.dir, `${name}.raw`), IMAGE_MIB);
    const served = join(this.dir, 'www', `${name}.${format}`);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, raw.file, served]);
    const sha256 = execFileSync('sha256sum', [served], { encoding: 'utf8' }).split(' ')[0]!;
    return { file: served, url: `http://127.0.0.1:${this.files.port}/${name}.${format}`, sha256, raw };
  }

  /** A GPT whole-disk image with an ESP (uefi-image.ts), served raw. */
  uefiImage(name: string): UefiImage & { url: string } {
    const image = writeUefiImage(join(this.dir, 'www', `${name}.raw`));
    return { ...image, url: `http://127.0.0.1:${this.files.port}/${name}.raw` };
  }

  /** An MBR whole-disk image whose root filesystem carries grub (grub-image.ts), served raw. */
  grubImage(name: string): GrubImage & { url: string } {
    const image = writeGrubImage(join(this.dir, 'www', `${name}.raw`));
    return { ...image, url: `http://127.0.0.1:${this.files.port}/${name}.raw` };
  }

  /** The grub image's root filesystem alone (grub-image.ts): a partition image, served raw. */
  grubPartitionImage(name: string): GrubRootFs & { url: string } {
    const image = writeGrubRootFs(join(this.dir, 'www', `${name}.raw`));
    return { ...image, url: `http://127.0.0.1:${this.files.port}/${name}.raw` };
  }

  failureContext(): string {
    return `--- guest console (tail of ${this.vm.consoleLog}) ---\n${this.vm.consoleTail()}`;
  }

  async teardown(stopConductor: () => Promise<void>): Promise<void> {
    this.timeline.stop();
    this.vm.kill();
    try {
      await stopConductor();
    } finally {
      await Promise.all([this.watch.listening.close(), this.files.close(), this.proxy.close()]);
      this.timeline.report(imageSizes(join(this.dir, 'www')), this.memoryMiB);
      if (process.env.KEEP_E2E_STATE === '1') process.stderr.write(`[e2e] state kept in ${this.dir}\n`);
      else this.vm.remove();
    }
  }
}
