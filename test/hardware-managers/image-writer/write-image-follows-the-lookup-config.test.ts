/**
 * What an operator sets on the conductor reaches the image writer through the lookup, as with
 * IPA: a fake Ironic API on 127.0.0.1 answers the agent's lookup with `[conductor]
 * permitted_image_formats`, `disable_deep_image_inspection` or `[agent]
 * enable_bios_bootloader_install`, and write_image / install_bootloader, called with the token
 * that lookup issued, behave by them. The agent's own configuration is left at IPA's defaults.
 */
import { beforeAll, describe, expect } from 'vitest';
import { run } from '../../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';
import { AgentTestClient } from '../../helpers/agent.js';
import { FakeConductor } from '../../helpers/fake-conductor.js';
import { canUseLoopDevices } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, readRange, sha256Of, toQcow2, type TestImage } from './test-images.js';

const DISK_MIB = 4608; // sparse; above IPA's 4 GiB minimum so no hints are needed

let macs: string[] = [];
beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

const it = imageWriterTest.extend<{
  mbr: TestImage;
  qcow2: string;
  /** An agent allowed `device`, looked up at a fake Ironic whose lookup `config` adds `sent`; its client holds the issued token. */
  linkedAgent: (device: string, sent: Record<string, unknown>) => Promise<AgentTestClient>;
}>({
  mbr: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir)), { scope: 'file' }],
  qcow2: [async ({ mbr }, use) => use(toQcow2(mbr.path)), { scope: 'file' }],
  linkedAgent: async ({ startAgent }, use) => {
    const conductors: FakeConductor[] = [];
    await use(async (device, sent) => {
      expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
      const conductor = await FakeConductor.start();
      conductors.push(conductor);
      conductor.lookupConfigExtra = sent;
      const node = conductor.addNode(macs);
      const { agent } = await startAgent([device], {
        standalone: false,
        agentToken: undefined,
        apiUrls: [conductor.url],
        lookupInterval: 0.05,
        lookupTimeout: 30,
        enableAutoTls: false,
      });
      expect(node.token).toBeDefined();
      return new AgentTestClient(agent.url, node.token);
    });
    await Promise.all(conductors.map((c) => c.close()));
  },
});

describe.skipIf(!canUseLoopDevices())("the image writer follows the conductor's lookup config", () => {
  it("[conductor]permitted_image_formats = raw: a qcow2 is refused with IPA's message and nothing is written", async ({
    disks,
    server,
    qcow2,
    linkedAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const client = await linkedAgent(device.path, { permitted_image_formats: ['raw'] });
    const url = server.serveFile('refused.qcow2', qcow2);

    const outcome = await runWriteImage(client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('InvalidImage');
    expect(outcome.body.command_error.details).toBe('Security: Detected image format was qcow2, but only raw are allowed');
    expect(readRange(device.path, 0, 1024 * 1024).every((byte) => byte === 0)).toBe(true);
  });

  it('[conductor]disable_deep_image_inspection = True: an image whose content is not its disk_format is written', async ({
    disks,
    server,
    mbr,
    linkedAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const client = await linkedAgent(device.path, { disable_deep_image_inspection: true });
    const url = server.serveFile('mislabelled.qcow2', mbr.path);

    const outcome = await runWriteImage(client, imageInfo(url, mbr.sha256, { disk_format: 'qcow2' }));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(readRange(device.path, 0, mbr.sizeBytes).equals(readRange(mbr.path, 0, mbr.sizeBytes))).toBe(true);
  });

  it('[agent]enable_bios_bootloader_install = True: BIOS grub is no longer refused by the CVE-2026-43003 default', async ({
    disks,
    linkedAgent,
  }) => {
    const device = disks.create({ sizeMiB: DISK_MIB });
    const client = await linkedAgent(device.path, { enable_bios_bootloader_install: true });

    const started = await client.post('image.install_bootloader', { root_uuid: '0x1a2b3c4d', target_boot_mode: 'bios' });
    expect(started.status).toBe(200);
    const done = await client.waitFor(started.body.id);

    // Past the setting, the next rule of the BIOS path: grub runs from the partition the
    // root UUID names, and this blank disk has none.
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.details).not.toContain('enable_bios_bootloader_install');
    expect(done.command_error.details).toBe(`No partition with UUID 0x1a2b3c4d found on device ${device.path}`);
  });
});
