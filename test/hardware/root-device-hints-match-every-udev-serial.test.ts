/**
 * Root device hints on `serial` and `wwn` match any serial or WWN lsblk and udev give, as
 * IPA's get_os_install_device lists devices (`all_serial_and_wwn=True`, IPA 10.0+), and
 * device-mapper devices get theirs from udev's DM_* keys as in IPA. Real loop devices; their
 * udev records are written in udev's database format (`E:KEY=value`) into a test folder,
 * with the identifiers of the WDC WD140EDFZ in test/fixtures/smart (model, serial, and its
 * NAA WWN 5/0x000cca/10283057623 as udev prints it). lsblk knows no serial for a loop
 * device, so every identifier below comes from the udev record.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listBlockDevices } from '../../src/hardware/block-devices.js';
import { DeviceNotFound } from '../../src/hardware/errors.js';
import { run } from '../../src/hardware/exec.js';
import { inventoryDisks } from '../../src/hardware/inventory/disks.js';
import { selectRootDevice } from '../../src/hardware/root-device-hints.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';

const LONG_SERIAL = 'WDC_WD140EDFZ-11A0VA0_9RK1XXXX';
const SHORT_SERIAL = '9RK1XXXX';
const WWN = '0x5000cca264eb01d7';

const scratch = new ScratchDevices();
let udevRoot: string | undefined;
afterEach(() => {
  scratch.cleanup();
  if (udevRoot) rmSync(udevRoot, { recursive: true, force: true });
  udevRoot = undefined;
});

/** A udev database folder with these properties recorded for each device. */
function udevDatabase(records: Array<[device: string, properties: Record<string, string>]>): string {
  udevRoot = mkdtempSync(join(tmpdir(), 'udev-data-'));
  for (const [device, properties] of records) {
    const rdev = statSync(device).rdev;
    const majMin = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
    const lines = Object.entries(properties).map(([key, value]) => `E:${key}=${value}`);
    writeFileSync(join(udevRoot, `b${majMin}`), `S:disk/by-id/ata-${LONG_SERIAL}\n${lines.join('\n')}\n`);
  }
  return udevRoot;
}

describe.runIf(canUseLoopDevices())('root device hints on serial and wwn', () => {
  it('find a disk by udev long ID_SERIAL as well as by its short serial or WWN', async () => {
    const disk = scratch.create({ sizeMiB: 8 });
    const other = scratch.create({ sizeMiB: 8 });
    const udev = udevDatabase([
      [disk.path, { ID_SERIAL: LONG_SERIAL, ID_SERIAL_SHORT: SHORT_SERIAL, ID_WWN: WWN, ID_WWN_WITH_EXTENSION: WWN }],
      [other.path, { ID_SERIAL: 'WDC_WD140EDFZ-11A0VA0_OTHER', ID_SERIAL_SHORT: 'OTHER' }],
    ]);
    const devices = await listBlockDevices(run, { devices: [other.path, disk.path], udevRoot: udev });

    expect(selectRootDevice(devices, { serial: LONG_SERIAL }).path).toBe(disk.path);
    expect(selectRootDevice(devices, { serial: SHORT_SERIAL }).path).toBe(disk.path);
    expect(selectRootDevice(devices, { serial: `<in> ${SHORT_SERIAL}`, wwn: WWN }).path).toBe(disk.path);
    expect(() => selectRootDevice(devices, { serial: 'WDC_WD140EDFZ-11A0VA0_NOSUCH' })).toThrow(DeviceNotFound);

    // The inventory keeps IPA's single values: lsblk's serial, else udev's short one.
    const inventory = inventoryDisks(devices.map((d) => ({ ...d, type: 'disk' })));
    expect(inventory.find((d) => d.name === disk.path)).toMatchObject({ serial: SHORT_SERIAL, wwn: WWN });
  });

  it('read a device-mapper device identifiers from its DM_* udev keys', async () => {
    const disk = scratch.create({ sizeMiB: 8 });
    const udev = udevDatabase([[disk.path, { DM_SERIAL: LONG_SERIAL, DM_WWN: WWN, DM_NAME: 'mpatha' }]]);
    const [listed] = await listBlockDevices(run, { devices: [disk.path], udevRoot: udev });
    expect(listed).toMatchObject({ serial: LONG_SERIAL, wwn: WWN });
    expect(selectRootDevice([listed!], { wwn: WWN }).path).toBe(disk.path);
  });
});
