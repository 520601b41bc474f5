/**
 * Software RAID in the booted ramdisk, with our conductor (`raid_interface: agent`): the
 * machine gets two more SATA disks (2 GiB) for the arrays. target_raid_config (a RAID-1
 * root of 1 GiB and a RAID-0 `MAX` volume, both on the two SATA disks named by serial in
 * `physical_disks`) is set as `baremetal node set --target-raid-config` does, then manual
 * cleaning `raid.delete_configuration` + `raid.create_configuration`: the node's raid_config
 * is the agent's result, the agent's inventory lists both md devices, and the host reads the
 * md superblocks from the disk files (`mdadm --examine`: level, members, names). A raw
 * whole-disk image whose root filesystem carries grub (harness/grub-image.ts) is deployed onto
 * the md root (root device hint `name: /dev/md0`, instance_info `image_rootfs_uuid`), in BIOS
 * mode with `ipa-enable-bios-bootloader-install=1` and GPT holders (capability
 * `disk_label:gpt`): the conductor asks for install_bootloader as Ironic does for a software
 * RAID root, each holder gets a BIOS boot partition, both RAID-1 members hold the image's MBR at the
 * array's data offset and its root filesystem with grub.cfg, every holder disk's MBR
 * boots grub's core image embedded before its first partition, and each holder disk booted
 * alone in a throw-away QEMU reaches grub's prompt on the serial port. Then `delete_configuration`
 * leaves no superblock and no partition table, and a second create builds the arrays again,
 * named `root` and `kept`. With `kept` on the skip list (`skip_block_devices` volume_name) and a
 * marker written into its members' data, a cleaning of delete + create (as Ironic runs it)
 * keeps it untouched, leaves the RAID-1 beside it the same array and builds nothing. Then, the
 * VM off, one member's superblock gets another array UUID so that `kept` cannot assemble, and
 * a delete_configuration in a fresh boot deletes `root` but leaves both `kept` members (whose
 * superblocks still name it) and both partition tables alone.
 * Last, `burnin_cpu` on this image, which leaves stress-ng out: the clean fails naming it.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/conductor/agent-client.js';
import { ConductorApiClient } from '../../src/conductor/cli/api-client.js';
import type { ServingConductor } from '../../src/conductor/cli/serve.js';
import { freePort } from '../interop/harness/free-port.js';
import { readAt } from './harness/md-check.js';
import { followNode } from './harness/follow.js';
import { conductorCli, startScenarioConductor } from './harness/our-conductor.js';
import {
  checkRaidMembers,
  expectNoRaidLeft,
  expectRootMirrorsImage,
  RAID_DISKS,
  TARGET_RAID_CONFIG,
} from './harness/raid-scenario.js';
import { E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';
import {
  expectKeptVolume,
  divertSuperblock,
  KEEP,
  NAMED_RAID_CONFIG,
  namedMembers,
  writeMarkers,
} from './harness/raid-kept-volume.js';
import { bootGrubFrom, checkGrubInRoot, checkGrubOnHolders } from './harness/grub-check.js';
import { missingGrubImageTools } from './harness/grub-image.js';

const PHASE_TIMEOUT_MS = 300_000;
const skip = e2eSkipReason(missingGrubImageTools());
let world: E2eWorld | undefined;
let service: ServingConductor | undefined;

const cli = (...argv: string[]) => conductorCli(service!.url, ...argv);

describe.skipIf(skip)(`e2e: software RAID in the booted ramdisk, our conductor${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    const apiPort = await freePort();
    world = await E2eWorld.create('software RAID', apiPort, {
      extraDisks: RAID_DISKS,
      kernelParams: ['ipa-enable-bios-bootloader-install=1'],
    });
    service = await startScenarioConductor(world, apiPort);
  }, 120_000);

  afterAll(async () => {
    await world?.teardown(async () => service?.close());
  }, 60_000);

  it(
    'builds RAID-1 + RAID-0, deploys onto the md root, deletes, builds again; burn-in names its missing tool',
    { timeout: 1_500_000 },
    async () => {
      const w = world!;
      const t = w.timeline;
      const conductor = service!.conductor;
      const client = new ConductorApiClient(service!.url);
      const say = (line: string) => t.say(line);
      const failure = () => `${w.failureContext()}\n--- conductor log: ${join(w.dir, 'conductor.log')}`;
      const uuid = (
      await cli(
        'enroll',
        '--name', 'e2e-raid-vm',
        '--power-interface', 'qemu',
        '--mac', E2E_MAC,
        '--no-automated-clean',
        // GPT holders in BIOS mode: grub needs a BIOS boot partition on each (IPA's bios-boot-part-<n>).
        '--property', `capabilities=${JSON.stringify('disk_label:gpt')}`,
        ...Object.entries(w.vm.driverInfo()).flatMap(([k, v]) => ['--driver-info', `${k}=${JSON.stringify(v)}`]),
        '--driver-info', `image_http_proxy=${JSON.stringify(w.guestProxyUrl)}`,
      )
    ).trim(); // prettier-ignore
      const clean = async (label: string, steps: Array<{ interface: string; step: string; args?: Record<string, unknown> }>) =>
        t.phase(label, async () => {
          await cli('clean', uuid, '--steps', JSON.stringify(steps));
          return followNode(conductor, uuid, { kind: 'clean', timeoutMs: PHASE_TIMEOUT_MS, say, failure });
        });
      const members = () => Object.values(w.vm.extraDisks);

      await client.request('PUT', `/v1/nodes/${uuid}/states/raid`, TARGET_RAID_CONFIG);
      const built = await clean('manual cleaning: raid.delete_configuration + raid.create_configuration', [
        { interface: 'raid', step: 'delete_configuration' },
        { interface: 'raid', step: 'create_configuration' },
      ]);
      expect(built.lastError, failure()).toBeNull();
      expect(built.provisionState).toBe('manageable');
      expect(built.raidConfig).toEqual(TARGET_RAID_CONFIG);

      // The agent stays up (fast track): its inventory, collected now, lists the arrays.
      const agent = new AgentClient({ ...conductor.conf.agent, commandTimeout: 60, maxCommandAttempts: 1 });
      try {
        const inventory = (await agent.command(conductor.store.getNode(uuid), 'poll.get_hardware_info', {}, { wait: true }))
          .command_result as { disks?: Array<Record<string, unknown>> };
        const md = (inventory.disks ?? []).filter((d) => String(d.name).startsWith('/dev/md'));
        t.say(`agent inventory: ${md.map((d) => `${d.name} ${(Number(d.size) / 2 ** 20).toFixed(0)} MiB`).join(', ')}`);
        expect(md.map((d) => d.name).sort()).toEqual(['/dev/md0', '/dev/md1']);
      } finally {
        await agent.close();
      }
      const arrays = checkRaidMembers(members());
      t.say(`host check (mdadm --examine on the disk files): ${arrays.summary}`);

      const image = w.grubImage('raid-root');
      const deployed = await t.phase('deploy a whole-disk image with grub onto /dev/md0, grub on every holder', async () => {
        await client.setProvisionState(uuid, 'provide');
        await client.patchNode(uuid, [
          { op: 'add', path: '/properties/root_device', value: { name: '/dev/md0' } },
          { op: 'add', path: '/instance_info/image_source', value: image.url },
          { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
          { op: 'add', path: '/instance_info/image_os_hash_value', value: image.sha256 },
          { op: 'add', path: '/instance_info/image_rootfs_uuid', value: image.root.uuid },
        ]);
        await client.setProvisionState(uuid, 'active');
        return followNode(conductor, uuid, { kind: 'deploy', timeoutMs: PHASE_TIMEOUT_MS, say, failure });
      });
      expect(deployed.lastError, failure()).toBeNull();
      expect(deployed.provisionState).toBe('active');
      // The image's MBR and gap, untouched (grub goes to the holders); its filesystem has changed.
      const head = readAt(image.file, 0, image.root.startBytes);
      say(
        `host check: ${expectRootMirrorsImage(arrays.root, { sizeBytes: head.length, sha256: createHash('sha256').update(head).digest('hex') })}`,
      );
      for (const member of arrays.root) say(`host check: ${checkGrubInRoot(member, image)}`);
      for (const line of checkGrubOnHolders(members(), arrays.partitions)) say(`host check: ${line}`);
      for (const disk of members()) {
        const name = disk.split('/').pop()!;
        const output = await t.phase(`boot ${name} alone (SeaBIOS, read-only): grub from the degraded RAID-1`, () =>
          bootGrubFrom(disk, join(w.dir, `grub-boot-${name}.log`)),
        );
        expect(output).toContain('GNU GRUB');
      }

      const undeployed = await t.phase('undeploy (no automated cleaning) and manage', async () => {
        await client.setProvisionState(uuid, 'deleted');
        const deadline = Date.now() + PHASE_TIMEOUT_MS;
        while (!['available', 'error', 'clean failed'].includes(conductor.store.getNode(uuid).provisionState)) {
          if (Date.now() > deadline) throw new Error(`undeploy did not end: ${failure()}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        await client.setProvisionState(uuid, 'manage');
        return conductor.store.getNode(uuid);
      });
      expect(undeployed.provisionState, failure()).toBe('manageable');

      const deleted = await clean('manual cleaning: raid.delete_configuration', [
        { interface: 'raid', step: 'delete_configuration' },
      ]);
      expect(deleted.lastError, failure()).toBeNull();
      expect(deleted.raidConfig).toEqual({});
      say(`host check: ${expectNoRaidLeft(members(), arrays.partitions)}`);

      // The second create names its volumes, so that one can be kept below.
      await client.request('PUT', `/v1/nodes/${uuid}/states/raid`, NAMED_RAID_CONFIG);
      const again = await clean('manual cleaning: raid.create_configuration (second create, named volumes)', [
        { interface: 'raid', step: 'create_configuration' },
      ]);
      expect(again.lastError, failure()).toBeNull();
      expect(again.raidConfig).toEqual(NAMED_RAID_CONFIG);
      say(`host check after the second create: ${checkRaidMembers(members(), 'root').summary}`);

      // Keep the RAID-0 "kept" (skip_block_devices volume_name) and clean as Ironic does with
      // both steps: delete keeps it and only wipes the RAID-1 on the same disks, create finds
      // both and builds nothing. Then, with one member's superblock given another array UUID
      // while the VM is off, the RAID-0 cannot assemble: delete must leave both members, whose
      // superblocks still name "kept", and both partition tables alone.
      const named = namedMembers(members());
      const kept = named.get('kept')!;
      const rootUuid = named.get('root')![0]!.arrayUuid;
      const markers = writeMarkers(kept);
      await client.patchNode(uuid, [{ op: 'add', path: '/properties/skip_block_devices', value: KEEP.skip_block_devices }]);
      const keptClean = await clean('manual cleaning with volume "kept" on the skip list: delete + create', [
        { interface: 'raid', step: 'delete_configuration' },
        { interface: 'raid', step: 'create_configuration' },
      ]);
      expect(keptClean.lastError, failure()).toBeNull();
      expect(keptClean.raidConfig).toEqual(NAMED_RAID_CONFIG);
      say(`host check: ${expectKeptVolume(members(), kept, markers)}`);
      expect(
        namedMembers(members())
          .get('root')!
          .map((m) => m.arrayUuid),
      ).toEqual([rootUuid, rootUuid]);
      say('host check: the RAID-1 "root" beside it is the same array (wiped, not made again)');

      await t.phase('power off; give the kept RAID-0 member on raid-b another array UUID', async () => {
        await client.request('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power off' });
        while (w.vm.running()) await new Promise((r) => setTimeout(r, 250));
      });
      const putBack = divertSuperblock(kept.find((m) => m.file.endsWith('raid-b.raw'))!);
      const diverted = namedMembers(members()).get('kept')!;
      expect(new Set(diverted.map((m) => m.arrayUuid)).size, 'mdadm --examine reads both members, two arrays').toBe(2);
      const unassembled = await clean('manual cleaning (boots the ramdisk): delete_configuration, "kept" cannot assemble', [
        { interface: 'raid', step: 'delete_configuration' },
      ]);
      expect(unassembled.lastError, failure()).toBeNull();
      putBack();
      say(`host check with raid-b's superblock put back: ${expectKeptVolume(members(), kept, markers)}`);
      expect(namedMembers(members()).get('root')).toBeUndefined();
      say('host check: the RAID-1 "root" was deleted');

      // This image has no stress-ng (BURNIN=1 make image adds it): the step says so.
      const burnin = await clean('manual cleaning: deploy.burnin_cpu on the default image', [
        { interface: 'deploy', step: 'burnin_cpu', args: { agent_burnin_cpu_timeout: 5 } },
      ]);
      expect(burnin.provisionState).toBe('clean failed');
      expect(burnin.lastError).toMatch(/burnin_cpu failed .*stress-ng is not installed in this ramdisk/);
      say(`burnin_cpu without stress-ng: ${burnin.lastError}`);
    },
  );
});
