/**
 * Finding the virtual media a BMC attached, as IPA's `utils._find_vmedia_device_by_labels`,
 * `_check_vmedia_device` and `_get_vmedia_device` do. A device is found by its filesystem
 * label and used only when it looks like virtual media (a CD, or a small USB disk): a
 * `config-2` partition a previous deployment left on a local disk carries the same label and
 * must never be read as this boot's configuration.
 *
 * This reads labels and runs lsblk/blkid only: nothing here writes to a device.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { run, type Exec } from '../../../hardware/exec.js';

/** Where, and how, virtual media are looked for; tests point every part at their own device. */
export interface MediaSearch {
  /** udev's label links (default `/dev/disk/by-label`). */
  byLabelDir?: string;
  /**
   * The devices blkid reads labels from when no label link names usable media (default:
   * every device the kernel lists). Empty: blkid is not asked.
   */
  blkidDevices?: readonly string[];
  /** sysfs's block class (default `/sys/class/block`), for IPA's "virtual media" model fallback. */
  sysBlockDir?: string;
  /**
   * Whether a device is virtual media (default: IPA's check over lsblk). A test's loop device
   * is not (lsblk calls it TYPE=loop), so tests accept their own device here.
   */
  isVirtualMedia?: (device: string, report: Report) => Promise<boolean>;
  exec?: Exec;
}

/** Where the search says what it found and why it refused a device (before the agent has a logger). */
export type Report = (message: string) => void;

const LSBLK_TIMEOUT_MS = 30_000;
const BLKID_TIMEOUT_MS = 60_000;
/** IPA's limit: a USB disk of 4 GiB or more is a real disk, not a BMC's virtual stick. */
const USB_VMEDIA_MAX_BYTES = 4 * 1024 ** 3;

/** `\xHH` escapes, as lsblk -P and udev's link names write unsafe characters. */
const decodeHexEscapes = (text: string) =>
  text.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** lsblk's `-P` output: one line per device of `KEY="value"` pairs. */
export function parseLsblkPairs(output: string): Record<string, string>[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const row: Record<string, string> = {};
      for (const match of line.matchAll(/([\w:-]+)="([^"]*)"/g)) row[match[1]!] = decodeHexEscapes(match[2]!);
      return row;
    });
}

/**
 * IPA's `_check_vmedia_device` verdict over `lsblk -s` rows (the device first, then what it
 * sits on): a partition never is virtual media; a ROM (a virtual CD) is; a USB disk under
 * 4 GiB is (HPE, Dell, Supermicro and Lenovo BMCs attach their media over USB). Any other
 * row is reported and the next one (the device's parent) is judged, as IPA's loop does.
 */
export function judgeVirtualMedia(rows: readonly Record<string, string>[], report: Report): boolean {
  for (const row of rows) {
    const { KNAME: name = '', TYPE: type = '', TRAN: transport = '', SIZE: size = '' } = row;
    if (type === 'part') {
      report(`Excluding device ${name} from virtual media consideration as it is a partition.`);
      return false;
    }
    if (type === 'rom') return true;
    if (type === 'disk' && transport === 'usb') {
      if (size !== '' && Number(size) < USB_VMEDIA_MAX_BYTES) return true;
      report(`Device ${name} appears to not qualify as virtual due to the device size. Size: ${size}`);
    }
    report(`Device ${name} was disqualified as virtual media. Type: ${type}, Transport: ${transport}`);
  }
  return false;
}

/** IPA's `_check_vmedia_device`: lsblk's view of the device and what it sits on. */
export async function lsblkSaysVirtualMedia(device: string, report: Report, exec: Exec = run): Promise<boolean> {
  let output: string;
  try {
    ({ stdout: output } = await exec('lsblk', ['-n', '-s', '-P', '-b', '-oKNAME,TRAN,TYPE,SIZE', device], {
      timeoutMs: LSBLK_TIMEOUT_MS,
    }));
  } catch (error) {
    report(`Failed to execute lsblk. lsblk is required for virtual media identification. ${(error as Error).message}`);
    return false;
  }
  return judgeVirtualMedia(parseLsblkPairs(output), report);
}

/** The search's virtual media check: the one it was given, else IPA's over lsblk. */
export function virtualMediaCheck(search: MediaSearch): NonNullable<MediaSearch['isVirtualMedia']> {
  return search.isVirtualMedia ?? ((device, report) => lsblkSaysVirtualMedia(device, report, search.exec));
}

const sameLabel = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

/** Devices udev linked under one of the labels (compared without case, as IPA does). */
function linkedDevices(byLabelDir: string, labels: readonly string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(byLabelDir).sort();
  } catch {
    return []; // no udev, or no labelled device at all
  }
  const devices: string[] = [];
  for (const label of labels) {
    for (const name of names.filter((n) => sameLabel(decodeHexEscapes(n), label))) {
      try {
        devices.push(realpathSync(join(byLabelDir, name)));
      } catch {
        // a link whose device went away
      }
    }
  }
  return devices;
}

/**
 * Devices blkid finds under one of the labels. Asked when no link names usable media: a CD
 * has no label link without udev's cdrom_id rule, and where two devices share a label
 * (virtual media and an old config drive on a local disk) udev links only one of them.
 */
async function blkidLabelledDevices(search: MediaSearch, labels: readonly string[], report: Report): Promise<string[]> {
  if (search.blkidDevices?.length === 0) return [];
  let output: string;
  try {
    // No cache file (-c /dev/null): a label read at an earlier boot means nothing now. Exit
    // code 2 is blkid's "nothing found".
    ({ stdout: output } = await (search.exec ?? run)(
      'blkid',
      ['-c', '/dev/null', '-o', 'export', ...(search.blkidDevices ?? [])],
      { okExitCodes: [0, 2], timeoutMs: BLKID_TIMEOUT_MS },
    ));
  } catch (error) {
    report(`Was unable to execute the blkid command. ${(error as Error).message}`);
    return [];
  }
  const devices: string[] = [];
  for (const block of output.split(/\n\s*\n/)) {
    const tags = Object.fromEntries(
      block
        .split('\n')
        .map((line) => /^(\w+)=(.*)$/.exec(line.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        // -o export escapes shell-unsafe characters with a backslash
        .map((m) => [m[1]!, m[2]!.replace(/\\(.)/g, '$1')]),
    );
    if (tags.DEVNAME && tags.LABEL !== undefined && labels.some((label) => sameLabel(tags.LABEL!, label))) {
      devices.push(tags.DEVNAME as string);
    }
  }
  return devices;
}

/**
 * The first device labelled with one of `labels` that passes the virtual media check, or
 * undefined (IPA's `_find_vmedia_device_by_labels`). IPA asks `lsblk -oKNAME,LABEL` for
 * every device; udev's label links say the same without a process, and blkid covers what
 * they miss.
 */
export async function findLabelledMedia(
  labels: readonly string[],
  search: MediaSearch,
  report: Report,
): Promise<string | undefined> {
  const isVirtualMedia = virtualMediaCheck(search);
  const judged = new Set<string>();
  const firstVirtual = async (candidates: readonly string[]) => {
    for (const device of candidates) {
      if (judged.has(device)) continue;
      judged.add(device);
      if (await isVirtualMedia(device, report)) return device;
      report(`Found possible vmedia candidate ${device}, however the device failed vmedia validity checking.`);
    }
    return undefined;
  };
  const found =
    (await firstVirtual(linkedDevices(search.byLabelDir ?? '/dev/disk/by-label', labels))) ??
    (await firstVirtual(await blkidLabelledDevices(search, labels, report)));
  if (!found) report(`Did not identify any virtual media device labelled ${labels.join(' or ')}.`);
  return found;
}

/**
 * IPA's `_get_vmedia_device`: a block device whose SCSI model says "virtual media" (some
 * BMCs' virtual floppy), as `/dev/<name>`. Its first match only, as IPA's.
 */
export function deviceModelledVirtualMedia(sysBlockDir = '/sys/class/block'): string | undefined {
  let names: string[];
  try {
    names = readdirSync(sysBlockDir).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      if (
        readFileSync(join(sysBlockDir, name, 'device', 'model'), 'utf8')
          .toLowerCase()
          .includes('virtual media')
      )
        return join('/dev', name);
    } catch {
      // no device/model: not a SCSI device
    }
  }
  return undefined;
}
