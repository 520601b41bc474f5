// With FNA bit 0 or 1 set, `nvme format` of one namespace erases every namespace of the NVM
// subsystem. No NVMe drive here: the controller answers `nvme id-ctrl` with the captured
// output (test/fixtures/erase), changed only in FNA; lsblk answers with a listing this test
// writes, of namespaces that do not exist on this machine, and every other tool is scripted,
// so nothing can reach a real device (nothing here opens a path with O_CREAT either).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import eraseManager from '../../../hardware-managers/generic-disk-erase/index.js';
import { namespaceSiblings } from '../../../hardware-managers/generic-disk-erase/nvme.js';
import { DeviceGuard, type BlockDevice, type GuardVerdict, type StepContext } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';
import { cannedLsblkJson } from './canned-lsblk.js';

const ID_CTRL = readFileSync(
  join(import.meta.dirname, '..', '..', 'fixtures', 'erase', 'nvme-id-ctrl-wdc-pc-sn730.json'),
  'utf8',
);
/** FNA 5: crypto erase (bit 2), and a format applies to all namespaces (bit 0). */
const ID_CTRL_FORMATS_ALL = ID_CTRL.replace('"fna" : 4', '"fna" : 5');

/** The namespaces of controller nvme9 (no such controller here). */
const NAMESPACES = ['nvme9n1', 'nvme9n2'];

/** A ramdisk's guard that finds every device writable: the devices of this test exist nowhere. */
class GuardForAbsentDevices extends DeviceGuard {
  constructor() {
    super({ allowList: [], inRamdisk: true });
  }
  override async check(device: string): Promise<GuardVerdict> {
    return { device, writable: true };
  }
}

function nvmeMachine(idCtrl: string, node: StepContext['node'] = {}) {
  const formats: string[] = [];
  const fake = createFakeStepContext({
    node: { uuid: '1b9a3c1e-5d7f-4f0e-8b8a-0c6d1e2f3a4b', properties: {}, driver_internal_info: {}, ...node },
    exec: async (file, args) => {
      const command = [file, ...args].join(' ');
      if (file === 'lsblk')
        return {
          stdout: cannedLsblkJson(
            NAMESPACES.map((name) => ({ name, model: 'WDC PC SN730', vendor: null, tran: 'nvme', discGranularity: 512 })),
          ),
        };
      if (file === 'nvme' && args[0] === 'id-ctrl') return { stdout: idCtrl };
      if (file === 'nvme' && args[0] === 'format') {
        formats.push(command);
        return {};
      }
      // What the format leaves: no signature, no table.
      if (file === 'blkid') return { exitCode: 2 };
      if (file === 'wipefs' && args[0] === '--no-act') return { stdout: '' };
      if (file === 'sgdisk' && args[0] === '-p') return { stdout: 'Creating new GPT entries in memory.\n' };
      throw new Error(`not expected here: ${command}`);
    },
  });
  const ctx: StepContext = { ...fake.ctx, guard: new GuardForAbsentDevices() };
  return { ctx, formats };
}

async function runStep(ctx: StepContext, name: string, dryRun: boolean): Promise<any> {
  const step = eraseManager.steps?.find((s) => s.name === name);
  if (!step) throw new Error(`no step ${name}`);
  return step.run(ctx, { dry_run: dryRun });
}

describe('an NVMe format that erases every namespace of the subsystem', () => {
  it('is not used while a sibling namespace is kept by skip_block_devices: overwrite (express: metadata) instead, saying why', async () => {
    const keepSecond = { properties: { skip_block_devices: [{ serial: 'serial-nvme9n2' }] } };
    const { ctx, formats } = nvmeMachine(ID_CTRL_FORMATS_ALL, keepSecond);

    const full = await runStep(ctx, 'erase_devices', true);
    expect(Object.keys(full.devices)).toEqual(['/dev/nvme9n1']);
    expect(full.devices['/dev/nvme9n1']).toMatchObject({ method: 'shred_then_zero', fallback: null });
    expect(full.devices['/dev/nvme9n1'].methods_not_used[0]).toEqual({
      method: 'nvme_format',
      reason: 'its format erases every namespace of the NVM subsystem (FNA bit 0 or 1), and /dev/nvme9n2 is not being erased',
    });
    const express = await runStep(ctx, 'erase_devices_express', true);
    expect(express.devices['/dev/nvme9n1']).toMatchObject({ method: 'metadata' });
    expect(formats).toEqual([]);
  });

  it('formats the controller once when all its namespaces are erased, and each namespace is verified', async () => {
    const { ctx, formats } = nvmeMachine(ID_CTRL_FORMATS_ALL);
    const report = await runStep(ctx, 'erase_devices', false);
    expect(formats).toHaveLength(1);
    expect(formats[0]).toMatch(/^nvme format \/dev\/nvme9n[12] -s 2 -f$/);
    for (const path of ['/dev/nvme9n1', '/dev/nvme9n2']) {
      expect(report.devices[path]).toMatchObject({ method: 'nvme_format_crypto_erase', verify: { passed: true } });
    }
  });

  it('a controller whose format reaches one namespace formats each namespace the step erases', async () => {
    const keepSecond = { properties: { skip_block_devices: [{ serial: 'serial-nvme9n2' }] } };
    const { ctx, formats } = nvmeMachine(ID_CTRL, keepSecond);
    const report = await runStep(ctx, 'erase_devices', false);
    expect(formats).toEqual(['nvme format /dev/nvme9n1 -s 2 -f']);
    expect(report.devices['/dev/nvme9n1']).toMatchObject({ method: 'nvme_format_crypto_erase' });
  });
});

describe('namespaceSiblings', () => {
  let sysRoot: string | undefined;
  afterEach(() => {
    if (sysRoot) rmSync(sysRoot, { recursive: true, force: true });
    sysRoot = undefined;
  });

  /** sysfs as the kernel lays it out: class/block/<ns>/device → the controller, which names its subsystem. */
  function sysfs(controllers: Record<string, { nqn: string; namespaces: string[] }>): string {
    const root = mkdtempSync(join(tmpdir(), 'nvme-sysfs-'));
    for (const [controller, { nqn, namespaces }] of Object.entries(controllers)) {
      const dir = join(root, 'devices', 'pci0000:00', controller);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'subsysnqn'), `${nqn}\n`);
      for (const ns of namespaces) {
        mkdirSync(join(root, 'class', 'block', ns), { recursive: true });
        symlinkSync(dir, join(root, 'class', 'block', ns, 'device'));
      }
    }
    return root;
  }
  const disk = (name: string) => ({ name, path: `/dev/${name}`, parent: null }) as BlockDevice;

  it('counts namespaces behind another controller of the same subsystem as within reach, and groups formats by controller', async () => {
    sysRoot = sysfs({
      nvme0: { nqn: 'nqn.2014-08.org.nvmexpress:uuid:a', namespaces: ['nvme0n1', 'nvme0n2'] },
      nvme1: { nqn: 'nqn.2014-08.org.nvmexpress:uuid:a', namespaces: ['nvme1n1'] },
      nvme2: { nqn: 'nqn.2014-08.org.nvmexpress:uuid:b', namespaces: ['nvme2n1'] },
    });
    const listing = ['nvme0n1', 'nvme0n2', 'nvme1n1', 'nvme2n1'].map(disk);
    const siblings = await namespaceSiblings(listing, [listing[0]!, listing[1]!, listing[3]!], sysRoot);
    expect(siblings.get('/dev/nvme0n1')).toEqual({
      controller: join(sysRoot, 'devices', 'pci0000:00', 'nvme0'),
      notErased: ['/dev/nvme1n1'],
    });
    expect(siblings.get('/dev/nvme0n2')?.notErased).toEqual(['/dev/nvme1n1']);
    expect(siblings.get('/dev/nvme2n1')?.notErased).toEqual([]);
    expect(siblings.has('/dev/nvme1n1')).toBe(false);
  });

  it('without sysfs, groups namespaces by the controller in their name', async () => {
    const listing = ['nvme7n1', 'nvme7n2', 'nvme8n1'].map(disk);
    const siblings = await namespaceSiblings(listing, [listing[0]!], '/nonexistent-sysfs');
    expect(siblings.get('/dev/nvme7n1')).toEqual({ controller: 'nvme7', notErased: ['/dev/nvme7n2'] });
  });
});
