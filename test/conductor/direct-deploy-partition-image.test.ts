/**
 * The `direct` deploy interface with a partition image, end to end against a real agent (the
 * shipped image writer, allowed only a loop device of the test): instance_info
 * `image_type: partition` with root_gb and swap_mb, BIOS. The conductor works out the layout
 * at prepare as Ironic's _update_instance_info does (root_mb, swap_mb, ephemeral_mb kept in
 * instance_info), sends them in write_image's image_info, then in prepare_instance_boot asks
 * get_partition_uuids and, for a partition image's root, install_bootloader with the root
 * UUID (Ironic's configure_local_boot). The image is the e2e grub image's root filesystem:
 * afterwards the disk has make_partitions' msdos layout, the image in its root partition, and
 * the image's grub in the MBR with grub.cfg in the root. Without enable_bios_bootloader_install
 * the agent refuses the write (it could not install grub afterwards) and the deploy fails saying
 * so, the disk untouched; an empty ephemeral_format gets Ironic's default (ext4); without root_gb the deploy fails at
 * prepare with Ironic's message. A config drive given as a dict is built by the conductor into a
 * config-2 ISO (Ironic's build_configdrive) that lands in the config drive partition; a string
 * one goes to the agent as it is; with no ISO tool on PATH a dict one fails the deploy at prepare.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { MISSING_ISO_TOOL } from '../../src/conductor/configdrive.js';
import { states } from '../../src/conductor/states.js';
import { checkGrubBootCode } from '../e2e/harness/grub-check.js';
import { missingGrubImageTools, writeGrubRootFs, type GrubRootFs } from '../e2e/harness/grub-image.js';
import { partitionsOf } from '../e2e/harness/md-check.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitForState } from './helpers.js';

const MiB = 1024 * 1024;
/** A whole deploy (grub image built, written, grub installed) on a busy 2-core host: past vitest's 60 s. */
const DEPLOY_TIMEOUT_MS = 150_000;
const canRun = canUseLoopDevices() && missingGrubImageTools() === undefined;

/** Serves the file on 127.0.0.1 until the test ends; returns its URL. */
async function serve(lab: ConductorLab, file: string): Promise<string> {
  const bytes = readFileSync(file);
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' });
    response.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lab.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/root.ext4`;
}

async function deployPartitionImage(
  lab: ConductorLab,
  options: {
    enableBiosBootloaderInstall: boolean;
    instanceInfo?: Record<string, unknown>;
    diskMiB?: number;
    /** PATH while the conductor starts the deploy (prepare runs then). */
    deployPath?: string;
  },
) {
  const scratch = new ScratchDevices();
  lab.defer(() => scratch.cleanup());
  const disk = scratch.create({ sizeMiB: options.diskMiB ?? 1100 });
  const image: GrubRootFs = writeGrubRootFs(join(scratch.dir, 'root.ext4'));
  const url = await serve(lab, image.file);
  const { conductor } = await lab.start({ conf: { deploy: { defaultBootMode: 'bios' } } });
  const enrolled = await enrollHostNode(conductor, {
    automatedClean: false,
    interfaces: { deploy: 'direct' },
    properties: { root_device: { name: disk.path } },
    instanceInfo: {
      image_source: url,
      image_os_hash_algo: 'sha256',
      image_os_hash_value: image.sha256,
      image_type: 'partition',
      root_gb: 1,
      swap_mb: 8,
      ...options.instanceInfo,
    },
  });
  await conductor.provision(enrolled.uuid, 'manage');
  await conductor.provision(enrolled.uuid, 'provide');
  await waitForState(conductor, enrolled.uuid, states.AVAILABLE);
  const path = process.env.PATH;
  if (options.deployPath !== undefined) process.env.PATH = options.deployPath;
  let waiting;
  try {
    await conductor.provision(enrolled.uuid, 'active');
    waiting = await waitForState(conductor, enrolled.uuid, [states.DEPLOYWAIT, states.DEPLOYFAIL]);
  } finally {
    process.env.PATH = path;
  }
  if (waiting.provisionState === states.DEPLOYFAIL) return { done: waiting, disk, image };
  await lab.agent({
    loadShippedManagers: true,
    hardwareManagerPaths: [],
    allowDevices: [disk.path],
    enableBiosBootloaderInstall: options.enableBiosBootloaderInstall,
  });
  const done = await waitForState(conductor, enrolled.uuid, [states.ACTIVE, states.DEPLOYFAIL], 90_000);
  return { done, disk, image };
}

/** The config-2 partition of the deployed disk and a reader of its files (isoinfo, Rock Ridge names). */
function configDrive(disk: string): { node: string; read(path: string): string } {
  const found = execFileSync('blkid', ['-o', 'device', '-t', 'LABEL=config-2'], { encoding: 'utf8' })
    .split('\n')
    .find((line) => line.startsWith(`${disk}p`));
  expect(found, 'a config-2 filesystem in a partition of the disk').toBeDefined();
  const node = found!;
  return { node, read: (path) => execFileSync('isoinfo', ['-R', '-i', node, '-x', path], { encoding: 'utf8' }) };
}

describe.skipIf(!canRun)('direct deploy of a partition image', () => {
  it("writes it into make_partitions' layout and installs its grub for the root UUID get_partition_uuids gave", async ({
    lab,
  }) => {
    const { done, disk, image } = await deployPartitionImage(lab, { enableBiosBootloaderInstall: true });
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(done.instanceInfo).toMatchObject({ image_type: 'partition', root_mb: 1024, swap_mb: 8, ephemeral_mb: 0 });
    expect(done.driverInternalInfo).toMatchObject({ is_whole_disk_image: false, root_uuid_or_disk_id: image.uuid });

    const table = partitionsOf(disk.path);
    expect(table.label).toBe('dos');
    expect(table.partitions.map((p) => p.sizeBytes / MiB)).toEqual([8, 1024]);
    const root = table.partitions[1]!;
    const uuid = execFileSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', '-O', String(root.startBytes), disk.path], {
      encoding: 'utf8',
    }).trim();
    expect(uuid, "the image's root filesystem in the root partition").toBe(image.uuid);
    checkGrubBootCode(disk.path, table.partitions[0]!.startBytes / 512);
    const cfg = execFileSync('debugfs', ['-R', 'cat /boot/grub/grub.cfg', `${disk.path}p2`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(cfg).toContain('### BEGIN /etc/grub.d/00_header ###');
  });

  it('fails the deploy at write_image, the disk untouched, when enable_bios_bootloader_install is off', async ({ lab }) => {
    const { done, disk } = await deployPartitionImage(lab, { enableBiosBootloaderInstall: false });
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    // The agent could not install the image's grub afterwards, so it refuses before partitioning
    // (IPA writes the disk first and fails only at install_bootloader).
    expect(done.lastError).toBe(
      `Deploy step deploy.write_image failed on node ${done.uuid}. ` +
        'Install of legacy BIOS bootloaders disabled by CONF.enable_bios_bootloader_install as part of CVE-2026-43003 mitigation. ' +
        `A partition image boots only with the image's grub installed by install_bootloader. Nothing was written to ${disk.path}.`,
    );
    const zeros = Buffer.alloc(MiB);
    const head = execFileSync('dd', [`if=${disk.path}`, 'bs=1M', 'count=1', 'status=none']);
    expect(head.equals(zeros), 'no partition table nor anything else written').toBe(true);
  });

  it("gives an ephemeral partition Ironic's default_ephemeral_format when ephemeral_format is empty", async ({ lab }) => {
    const { done, disk } = await deployPartitionImage(lab, {
      enableBiosBootloaderInstall: true,
      instanceInfo: { ephemeral_gb: 1, ephemeral_format: '' },
      diskMiB: 2150,
    });
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(done.instanceInfo).toMatchObject({ ephemeral_mb: 1024, ephemeral_format: 'ext4' });
    const ephemeral = execFileSync('blkid', ['-p', '-o', 'export', `${disk.path}p1`], { encoding: 'utf8' });
    expect(ephemeral).toContain('TYPE=ext4');
    expect(ephemeral).toContain('LABEL=ephemeral0');
  });

  it("fails at prepare with Ironic's message when root_gb is missing", async ({ lab }) => {
    const { done } = await deployPartitionImage(lab, { enableBiosBootloaderInstall: true, instanceInfo: { root_gb: null } });
    expect(done.provisionState).toBe(states.DEPLOYFAIL);
    expect(done.lastError).toContain("Some parameters were missing in node's instance_info. Missing are: ['root_gb']");
  });

  it(
    'builds a config drive given as a dict into a config-2 ISO in the config drive partition, as Ironic',
    async ({ lab }) => {
      const configdrive = {
        meta_data: { hostname: 'web-1', public_keys: { default: 'ssh-ed25519 AAAA test' } },
        user_data: '#cloud-config\nruncmd: [echo hi]\n',
        network_data: { links: [], networks: [], services: [] },
      };
      const { done, disk } = await deployPartitionImage(lab, {
        enableBiosBootloaderInstall: true,
        instanceInfo: { configdrive },
      });
      expect(done.lastError).toBeNull();
      expect(done.provisionState).toBe(states.ACTIVE);
      const drive = configDrive(disk.path);
      // Ironic's setdefault('uuid', node.uuid); the operator's keys kept as given.
      expect(JSON.parse(drive.read('/openstack/latest/meta_data.json'))).toEqual({ ...configdrive.meta_data, uuid: done.uuid });
      expect(drive.read('/openstack/latest/user_data')).toBe(configdrive.user_data);
      expect(JSON.parse(drive.read('/openstack/2012-08-10/network_data.json'))).toEqual(configdrive.network_data);
    },
    DEPLOY_TIMEOUT_MS,
  );

  it(
    'sends a config drive given as a string (a packed ISO) to the agent unchanged',
    async ({ lab }) => {
      const dir = mkdtempSync(join(tmpdir(), 'configdrive-test-'));
      lab.defer(() => rmSync(dir, { recursive: true, force: true }));
      mkdirSync(join(dir, 'tree', 'openstack', 'latest'), { recursive: true });
      writeFileSync(join(dir, 'tree', 'openstack', 'latest', 'meta_data.json'), '{"uuid": "from-the-operator"}');
      execFileSync('genisoimage', ['-quiet', '-J', '-r', '-V', 'config-2', '-o', join(dir, 'cd.iso'), join(dir, 'tree')]);
      const configdrive = gzipSync(readFileSync(join(dir, 'cd.iso'))).toString('base64');
      const { done, disk } = await deployPartitionImage(lab, {
        enableBiosBootloaderInstall: true,
        instanceInfo: { configdrive },
      });
      expect(done.lastError).toBeNull();
      expect(done.provisionState).toBe(states.ACTIVE);
      expect(configDrive(disk.path).read('/openstack/latest/meta_data.json')).toBe('{"uuid": "from-the-operator"}');
    },
    DEPLOY_TIMEOUT_MS,
  );

  it(
    'fails a dict config drive at prepare, before any deploy step, when no ISO tool is installed',
    async ({ lab }) => {
      // PATH an empty directory: none of genisoimage, mkisofs, xorrisofs is found.
      const empty = mkdtempSync(join(tmpdir(), 'no-iso-tools-'));
      lab.defer(() => rmSync(empty, { recursive: true, force: true }));
      const { done } = await deployPartitionImage(lab, {
        enableBiosBootloaderInstall: true,
        instanceInfo: { configdrive: { meta_data: { hostname: 'web-1' } } },
        deployPath: empty,
      });
      expect(done.provisionState).toBe(states.DEPLOYFAIL);
      expect(done.lastError).toContain(MISSING_ISO_TOOL);
      expect(done.deployStep).toEqual({});
    },
    DEPLOY_TIMEOUT_MS,
  );
});
