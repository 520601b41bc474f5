/**
 * A disk's `wwn` is udev's ID_WWN, as IPA's list_all_block_devices reads it; the longer
 * ID_WWN_WITH_EXTENSION is `wwn_with_extension`. lsblk's WWN column prefers the extended
 * value, so a RAID volume or SAN LUN (whose NAA IEEE Registered Extended identifier has a
 * vendor extension) was reported with the extended one as `wwn`. A real loop device with the
 * udev record of an LSI MegaRAID volume (test/fixtures/inventory/README.md); the real lsblk
 * reads that record in a private mount namespace where /run/udev/data is the test's folder,
 * so this machine's udev database is not touched.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listBlockDevices } from '../../../src/hardware/block-devices.js';
import { run, type Exec } from '../../../src/hardware/exec.js';
import { inventoryDisks } from '../../../src/hardware/inventory/disks.js';
import { canUseLoopDevices, ScratchDevices } from '../../helpers/loop-devices.js';

const RECORD = join(import.meta.dirname, '..', '..', 'fixtures', 'inventory', 'udev-megaraid-volume.txt');

const scratch = new ScratchDevices();
let udevRoot: string | undefined;
afterEach(() => {
  scratch.cleanup();
  if (udevRoot) rmSync(udevRoot, { recursive: true, force: true });
  udevRoot = undefined;
});

/** Runs a tool with /run/udev/data showing only `dir` (a private mount namespace). */
function withUdevDatabase(dir: string): Exec {
  const script = 'mount -t tmpfs ramdisk-agent-test /run && mkdir -p /run/udev && ln -s "$0" /run/udev/data && exec "$@"';
  return (file, args = [], options) => run('unshare', ['-m', 'sh', '-c', script, dir, file, ...args], options);
}

describe.runIf(canUseLoopDevices())('disk wwn in the inventory', () => {
  it("is udev's ID_WWN, the extended identifier being wwn_with_extension", async () => {
    const disk = scratch.create({ sizeMiB: 8 });
    const rdev = statSync(disk.path).rdev;
    const majMin = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
    udevRoot = mkdtempSync(join(tmpdir(), 'udev-data-'));
    // `udevadm info` prints `E: KEY=value`; udev's database holds the same as `E:KEY=value`.
    const properties = (await readFile(RECORD, 'utf8')).match(/^E: \S+=.*$/gm)!.map((line) => line.replace(/^E: /, 'E:'));
    writeFileSync(join(udevRoot, `b${majMin}`), `${properties.join('\n')}\n`);

    const exec = withUdevDatabase(udevRoot);
    const { stdout } = await exec('lsblk', ['--json', '--output', 'WWN,SERIAL', disk.path]);
    // What lsblk itself reports for it: the extended WWN, and udev's ID_SCSI_SERIAL.
    expect(JSON.parse(stdout)).toEqual({
      blockdevices: [{ wwn: '0x64403a78570b200018ac2cd20575ec04', serial: '0004ec7505d22cac1800200b57783a40' }],
    });

    const devices = await listBlockDevices(exec, { devices: [disk.path], udevRoot });
    const [listed] = inventoryDisks(devices.map((d) => ({ ...d, type: 'disk' })));
    expect(listed).toMatchObject({
      wwn: '0x64403a78570b2000',
      wwn_with_extension: '0x64403a78570b200018ac2cd20575ec04',
      wwn_vendor_extension: '0x18ac2cd20575ec04',
      // IPA takes lsblk's serial when it has one, as here.
      serial: '0004ec7505d22cac1800200b57783a40',
    });
  });
});
