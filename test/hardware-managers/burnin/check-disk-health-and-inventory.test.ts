// check_disk_health and the inventory's `smart` key, end to end through the agent, with
// a smartctl that prints captured outputs of real drives for scratch loop devices
// (fake-smartctl.ts): the failing verdicts cannot be produced on this machine otherwise.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { collectInventory } from '../../../src/hardware/inventory/index.js';
import { run } from '../../../src/hardware/exec.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';
import { FakeSmartctl } from './fake-smartctl.js';
import { runStep, startBurninAgent } from './helpers.js';

const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;
let smartctl: FakeSmartctl | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  smartctl?.restore();
  smartctl = undefined;
  scratch.cleanup();
});

/**
 * Parts come in the order the disks are listed (lsblk), not the order the loop devices were
 * made: a parallel test can free a lower-numbered one in between. Compared sorted by name.
 */
const byName = (x: unknown[], y: unknown[]) => String(x[0]).localeCompare(String(y[0]));

describe.runIf(canUseLoopDevices())('check_disk_health', () => {
  it('passes healthy SATA, SAS and NVMe disks and reports their health', async () => {
    const [a, b, c] = [1, 2, 3].map(() => scratch.create({ sizeMiB: 1 }));
    smartctl = new FakeSmartctl({
      [a!.path]: 'sata-wdc-wd140edfz-healthy.json',
      [b!.path]: 'sas-seagate-st1200mm0088-healthy.json',
      [c!.path]: 'nvme-intel-ssdpeknw010t8-healthy.json',
    });
    let client;
    ({ agent, client } = await startBurninAgent([a!.path, b!.path, c!.path]));
    const { final } = await runStep(client, 'check_disk_health');
    expect(final.command_status).toBe('SUCCEEDED');
    const parts = final.command_result.clean_result.parts;
    expect(parts.map((p: any) => [p.name, p.passed, p.smart.protocol]).sort(byName)).toEqual(
      [
        [a!.path, true, 'ATA'],
        [b!.path, true, 'SCSI'],
        [c!.path, true, 'NVMe'],
      ].sort(byName),
    );
  });

  it('fails naming each failing disk and attribute', async () => {
    const [sata, nvme, sas, fine] = [1, 2, 3, 4].map(() => scratch.create({ sizeMiB: 1 }));
    smartctl = new FakeSmartctl({
      [sata!.path]: 'sata-hitachi-hds721050dle630-failing.json',
      [nvme!.path]: 'nvme-samsung-970-evo-media-errors.json',
      [sas!.path]: 'sas-seagate-st4000nm0043-grown-defects.json',
      [fine!.path]: 'nvme-intel-ssdpeknw010t8-healthy.json',
    });
    let client;
    ({ agent, client } = await startBurninAgent([sata!.path, nvme!.path, sas!.path, fine!.path]));
    const { final } = await runStep(client, 'check_disk_health', { self_test: 'short' });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('CleaningError');
    const details: string = final.command_error.details;
    expect(details).toMatch(/^check_disk_health failed: /);
    expect(details).toContain(`${sata!.path}: smart_status: SMART overall-health self-assessment: FAILED`);
    expect(details).toContain('attribute 5 Reallocated_Sector_Ct: attribute 5 Reallocated_Sector_Ct is failing now');
    expect(details).toContain('pending_sectors: pending sectors 8 exceeds 0');
    expect(details).toContain(`${nvme!.path}: media_errors: media errors 7 exceeds 0`);
    expect(details).toContain(`${sas!.path}: reallocated_sectors: reallocated sectors 56 exceeds 0`);
    expect(details).not.toContain(fine!.path);
  });

  it('raised limits let a disk pass; an unreadable disk is noted unless asked to fail', async () => {
    const [nvme, loop] = [1, 2].map(() => scratch.create({ sizeMiB: 1 }));
    smartctl = new FakeSmartctl({ [nvme!.path]: 'nvme-samsung-970-evo-media-errors.json' });
    let client;
    ({ agent, client } = await startBurninAgent([nvme!.path, loop!.path]));
    const tolerant = await runStep(client, 'check_disk_health', { max_media_errors: 10 });
    expect(tolerant.final.command_status).toBe('SUCCEEDED');
    const unreadable = tolerant.final.command_result.clean_result.parts.find((p: any) => p.name === loop!.path);
    expect(unreadable).toMatchObject({
      passed: true,
      smart: { available: false, message: `${loop!.path}: Unable to detect device type` },
    });

    const strict = await runStep(client, 'check_disk_health', { max_media_errors: 10, fail_if_unavailable: true });
    expect(strict.final.command_error.details).toBe(
      `check_disk_health failed: ${loop!.path}: SMART data unavailable (${loop!.path}: Unable to detect device type)`,
    );
  });
});

describe.runIf(canUseLoopDevices())('burnin_disk with agent_burnin_fio_disk_smart_test', () => {
  it('runs a SMART long self-test on every disk after fio and reports its result per disk', async () => {
    const [a, b] = [1, 2].map(() => scratch.create({ sizeMiB: 32 }));
    smartctl = new FakeSmartctl({
      [a!.path]: 'sata-hitachi-hds721050dle630-failing.json',
      [b!.path]: 'nvme-intel-ssdpeknw010t8-healthy.json',
    });
    let client;
    ({ agent, client } = await startBurninAgent([a!.path, b!.path]));
    const { final } = await runStep(
      client,
      'burnin_disk',
      {},
      { agent_burnin_fio_disk_runtime: 1, agent_burnin_fio_disk_smart_test: 'true' },
    );
    expect(final.command_status).toBe('SUCCEEDED');
    const parts = final.command_result.clean_result.parts;
    expect(parts.map((p: any) => [p.name, p.self_test]).sort(byName)).toEqual(
      [
        [a!.path, { kind: 'long', result: 'passed', status: 'completed without error' }],
        // A drive without a self-test log is noted and passes, as in IPA.
        [b!.path, { kind: 'long', result: 'unknown', status: 'smartctl reports no self-test status for this drive' }],
      ].sort(byName),
    );
  });
});

describe('inventory disks', () => {
  it('carry the SMART health summary beside IPA keys', async () => {
    smartctl = new FakeSmartctl({ '/dev/fake-sda': 'sata-hitachi-hds721050dle630-failing.json' });
    const disk = {
      name: '/dev/fake-sda',
      model: 'Hitachi HDS721050DLE630',
      size: 500107862016,
      rotational: true,
      wwn: null,
      serial: null,
      vendor: null,
      wwn_with_extension: null,
      wwn_vendor_extension: null,
      hctl: null,
      by_path: null,
      logical_sectors: 512,
      physical_sectors: 4096,
      tran: 'sata',
    };
    const inventory = await collectInventory({ exec: run, listDisks: async () => [disk] });
    expect(inventory.disks[0]).toMatchObject({ ...disk, smart: { available: true, passed: false, pending_sectors: 8 } });
    expect(inventory.disks[0]?.smart?.problems.map((p) => p.attribute)).toContain('smart_status');
  });
});
