/**
 * A virtual media boot (`boot_method=vmedia`) takes the agent's parameters from
 * parameters.txt on a vfat device labelled ir-vfd-dev, over the kernel command line's, as
 * IPA's utils.get_agent_params does: Ironic's redfish/idrac/ilo virtual media put the API
 * URL and the agent token there when the deploy ISO is pre-built (config_via_removable).
 * The devices are the test's own loop devices; the search sees nothing else. Media the
 * agent mounts are vfat where this kernel mounts vfat, else ext4 (test/helpers/virtual-media.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig, type LoadOptions } from '../../src/agent/config/load.js';
import {
  findLabelledMedia,
  judgeVirtualMedia,
  lsblkSaysVirtualMedia,
  parseLsblkPairs,
} from '../../src/agent/config/vmedia/find-media.js';
import { parseParametersFile } from '../../src/agent/config/vmedia/vmedia-boot.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { canMakeVirtualMedia, isMounted, makeMedia, sha256Of, testMediaSearch } from '../helpers/virtual-media.js';

// What Ironic's prepare_floppy_image writes: one key=value a line.
const PARAMETERS = [
  'ipa-api-url=http://192.0.2.7:6385',
  'ipa-agent-token=token-from-the-floppy-0123456789abcdef',
  'BOOTIF=52:54:00:12:34:56',
  'boot_method=vmedia',
  'ipa-debug=1',
].join('\n');
const CMDLINE =
  'console=ttyS0 boot_method=vmedia ipa-api-url=http://198.51.100.1:6385 ipa-agent-token=from-the-cmdline ipa-lookup-timeout=77';

describe('parameters.txt and the checks around it', () => {
  it("is read as IPA's _read_params_from_file: white space separates, a token without = is skipped", () => {
    expect(parseParametersFile('a=1 flag\nb=x=y\r\n\tc=\n')).toEqual({ a: '1', b: 'x=y', c: '' });
  });

  it("judges devices as IPA's _check_vmedia_device: a CD or a USB disk under 4 GiB, never a partition", () => {
    const says: string[] = [];
    const judge = (lines: string) => judgeVirtualMedia(parseLsblkPairs(lines), (m) => says.push(m));
    expect(judge('KNAME="sr0" TRAN="sata" TYPE="rom" SIZE="1048576"')).toBe(true);
    expect(judge('KNAME="sdb" TRAN="usb" TYPE="disk" SIZE="1474560"')).toBe(true);
    expect(judge('KNAME="sdc" TRAN="usb" TYPE="disk" SIZE="64023257088"')).toBe(false);
    expect(judge('KNAME="sda1" TRAN="" TYPE="part" SIZE="67108864"\nKNAME="sda" TRAN="sata" TYPE="disk" SIZE="1"')).toBe(false);
    expect(judge('KNAME="sda" TRAN="sata" TYPE="disk" SIZE="1474560"')).toBe(false);
    // Not the device itself but what it sits on, as IPA's loop goes on to the next row.
    expect(judge('KNAME="dm-0" TRAN="" TYPE="crypt" SIZE="1"\nKNAME="sdb" TRAN="usb" TYPE="disk" SIZE="1474560"')).toBe(true);
    expect(says).toContain('Device sdc appears to not qualify as virtual due to the device size. Size: 64023257088');
    expect(says).toContain('Excluding device sda1 from virtual media consideration as it is a partition.');
  });

  it('finds a label whatever its case, as IPA compares labels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-vmedia-'));
    try {
      const search = testMediaSearch(dir, { VMEDIA_BOOT_ISO: '/dev/null' }, ['/dev/null']);
      expect(await findLabelledMedia(['config-2', 'vmedia_boot_iso'], search, () => undefined)).toBe('/dev/null');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!canUseLoopDevices() || !canMakeVirtualMedia())('a virtual media boot reads parameters.txt', () => {
  const devices = new ScratchDevices();
  afterEach(() => devices.cleanup());

  const floppyWith = (parameters: string, label = 'ir-vfd-dev') =>
    makeMedia(devices, { format: 'vfat', label, files: { 'parameters.txt': parameters } });

  async function load(cmdline: string, options: LoadOptions): Promise<ReturnType<typeof loadAgentConfig>> {
    const cmdlineFile = join(devices.dir, 'cmdline');
    writeFileSync(cmdlineFile, cmdline);
    // An empty root: no IPA configuration directory of this machine is read.
    const ipaConfigRoot = mkdtempSync(join(devices.dir, 'root-'));
    return loadAgentConfig({ config: {}, cmdlineFile, help: false }, { ipaConfigRoot, ...options });
  }

  it('from the ir-vfd-dev device, over the kernel command line; mounted read-only, unmounted after, never written', async () => {
    const floppy = floppyWith(PARAMETERS);
    const before = sha256Of(floppy.file);
    const reports: string[] = [];
    const config = await load(CMDLINE, {
      media: testMediaSearch(devices.dir, { 'ir-vfd-dev': floppy.path }, [floppy.path]),
      report: (m) => reports.push(m),
    });
    expect(config.apiUrls).toEqual(['http://192.0.2.7:6385']);
    expect(config.agentToken).toBe('token-from-the-floppy-0123456789abcdef');
    expect(config.bootif).toBe('52:54:00:12:34:56');
    expect(config.logLevel).toBe('debug');
    expect(config.lookupTimeout).toBe(77); // only on the command line: kept
    expect(reports).toContain(
      `Read ipa-api-url, ipa-agent-token, BOOTIF, boot_method, ipa-debug from parameters.txt on ${floppy.path}`,
    );
    expect(reports.join('\n')).not.toContain('token-from-the-floppy');
    expect(isMounted(floppy.path)).toBe(false);
    expect(sha256Of(floppy.file)).toBe(before);
  });

  it('only when the kernel command line says boot_method=vmedia, as IPA', async () => {
    const floppy = floppyWith(PARAMETERS);
    const reports: string[] = [];
    const config = await load(CMDLINE.replace('boot_method=vmedia', ''), {
      media: testMediaSearch(devices.dir, { 'ir-vfd-dev': floppy.path }, [floppy.path]),
      report: (m) => reports.push(m),
    });
    expect(config.apiUrls).toEqual(['http://198.51.100.1:6385']);
    expect(config.agentToken).toBe('from-the-cmdline');
    expect(reports).toEqual([]);
  });

  it("through blkid when udev made no label link (a CD without udev's cdrom_id rule)", async () => {
    const floppy = floppyWith(PARAMETERS);
    const config = await load(CMDLINE, {
      media: testMediaSearch(devices.dir, {}, [floppy.path], [floppy.path]),
      report: () => undefined,
    });
    expect(config.apiUrls).toEqual(['http://192.0.2.7:6385']);
  });

  it('finds real media by label without mounting them: vfat as Ironic formats its floppy, an ISO as mkisofs -V', async () => {
    const vfat = makeMedia(devices, { format: 'vfat', label: 'ir-vfd-dev', files: {}, exactFormat: true });
    const iso = makeMedia(devices, { format: 'iso9660', label: 'config-2', files: { 'a.txt': '' }, exactFormat: true });
    const both = [vfat.path, iso.path];
    const search = testMediaSearch(devices.dir, {}, both, both);
    expect(await findLabelledMedia(['ir-vfd-dev'], search, () => undefined)).toBe(vfat.path);
    expect(await findLabelledMedia(['config-2', 'vmedia_boot_iso'], search, () => undefined)).toBe(iso.path);
  });

  it("through IPA's fallback, a device whose SCSI model says Virtual Media, when no label is found", async () => {
    const floppy = floppyWith(PARAMETERS, 'OTHER');
    const search = testMediaSearch(devices.dir, {}, [floppy.path]);
    mkdirSync(join(search.sysBlockDir!, basename(floppy.path), 'device'), { recursive: true });
    writeFileSync(join(search.sysBlockDir!, basename(floppy.path), 'device', 'model'), 'Virtual Media   \n');
    const config = await load(CMDLINE, { media: search, report: () => undefined });
    expect(config.agentToken).toBe('token-from-the-floppy-0123456789abcdef');
  });

  it("is not taken from a device IPA's check refuses (lsblk: a loop device is not virtual media)", async () => {
    const floppy = floppyWith(PARAMETERS);
    const reports: string[] = [];
    expect(await lsblkSaysVirtualMedia(floppy.path, (m) => reports.push(m))).toBe(false);
    expect(reports).toEqual([`Device ${basename(floppy.path)} was disqualified as virtual media. Type: loop, Transport: `]);
    const { isVirtualMedia: _acceptsOurs, ...search } = testMediaSearch(devices.dir, { 'ir-vfd-dev': floppy.path }, []);
    const config = await load(CMDLINE, { media: search, report: (m) => reports.push(m) });
    expect(config.apiUrls).toEqual(['http://198.51.100.1:6385']);
    expect(reports).toContain(
      `Found possible vmedia candidate ${floppy.path}, however the device failed vmedia validity checking.`,
    );
  });

  it('no device: no vmedia parameters, and the kernel command line stands', async () => {
    const reports: string[] = [];
    const config = await load(CMDLINE, { media: testMediaSearch(devices.dir, {}, []), report: (m) => reports.push(m) });
    expect(config.apiUrls).toEqual(['http://198.51.100.1:6385']);
    expect(reports).toContain('Did not identify any virtual media device labelled ir-vfd-dev.');
  });

  it('media that cannot be read are reported, not fatal: the kernel command line stands', async () => {
    const blank = devices.create({ sizeMiB: 1 }); // labelled by its link, but no filesystem to mount
    const noFile = makeMedia(devices, { format: 'vfat', label: 'ir-vfd-dev', files: { 'other.txt': 'x=1' } });
    for (const device of [blank, noFile]) {
      const reports: string[] = [];
      const config = await load(CMDLINE, {
        media: testMediaSearch(devices.dir, { 'ir-vfd-dev': device.path }, [device.path]),
        report: (m) => reports.push(m),
      });
      expect(config.apiUrls).toEqual(['http://198.51.100.1:6385']);
      expect(reports.join('\n')).toMatch(
        new RegExp(
          `Could not read parameters.txt from virtual media ${device.path}: .+; going on with the kernel command line alone`,
          's',
        ),
      );
      expect(isMounted(device.path)).toBe(false);
    }
  });
});
