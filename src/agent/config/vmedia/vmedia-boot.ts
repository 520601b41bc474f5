/**
 * What a virtual media boot (`boot_method=vmedia`, set by Ironic's redfish, idrac and ilo
 * virtual media boot interfaces) hands the agent on media instead of the kernel command
 * line, read as IPA reads it:
 *
 * - `parameters.txt` on a vfat device labelled `ir-vfd-dev` (Ironic's
 *   `image_utils.prepare_floppy_image`, with a pre-built deploy ISO and
 *   `config_via_removable`): `ipa-api-url=`, `ipa-agent-token=`, `BOOTIF=`, ... which win
 *   over the kernel command line's (IPA's `utils._get_vmedia_params`).
 * - `etc/ironic-python-agent/` and `etc/ironic-python-agent.d/` on the boot ISO (labelled
 *   `config-2` or `vmedia_boot_iso`), copied into `/etc` (IPA's
 *   `utils.copy_config_from_vmedia`): Ironic puts its API's CA there (`ironic.crt`) with
 *   `ironic-tls.conf` naming it as `cafile` (`image_utils.prepare_deploy_iso`,
 *   `[agent]api_ca_file`); ipa-config-dir.ts then reads that file.
 *
 * Loaded only when the kernel command line says `boot_method=vmedia`. Where IPA raises (a
 * device that will not mount, no parameters.txt, a file that will not copy) and its service
 * is restarted to fail the same way, the agent says why and goes on with what it has.
 */
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../hardware/exec.js';
import { deviceModelledVirtualMedia, findLabelledMedia, type MediaSearch, type Report, virtualMediaCheck } from './find-media.js';
import { mountPointOf, withMountedMedia } from './mount-media.js';

const PARAMETERS_LABELS = ['ir-vfd-dev'];
const PARAMETERS_FILE = 'parameters.txt';
const CONFIG_LABELS = ['config-2', 'vmedia_boot_iso'];
const CONFIG_FOLDERS = ['ironic-python-agent', 'ironic-python-agent.d'];

/**
 * IPA's `_read_params_from_file`: white-space separated `key=value` tokens, split at the
 * first `=`; a token without `=` is skipped. No quoting, unlike the kernel command line:
 * Ironic writes one `key=value` a line.
 */
export function parseParametersFile(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const token of text.split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq >= 0) params[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return params;
}

/** IPA's `_get_vmedia_params`: parameters.txt of the `ir-vfd-dev` media; {} without one. */
async function readMediaParameters(search: MediaSearch, report: Report): Promise<Record<string, string>> {
  const exec = search.exec ?? run;
  let device = await findLabelledMedia(PARAMETERS_LABELS, search, report);
  if (!device) {
    // IPA's fallback for a virtual floppy whose label was not read: its SCSI model.
    const modelled = deviceModelledVirtualMedia(search.sysBlockDir);
    if (!modelled || !(await virtualMediaCheck(search)(modelled, report))) return {};
    device = modelled;
  }
  try {
    const params = await withMountedMedia(
      device,
      report,
      (mountPoint) => parseParametersFile(readFileSync(join(mountPoint, PARAMETERS_FILE), 'utf8')),
      exec,
    );
    // Names only: the file carries the node's agent token.
    report(`Read ${Object.keys(params).join(', ') || 'no parameters'} from ${PARAMETERS_FILE} on ${device}`);
    return params;
  } catch (error) {
    report(
      `Could not read ${PARAMETERS_FILE} from virtual media ${device}: ${(error as Error).message}; ` +
        'going on with the kernel command line alone',
    );
    return {};
  }
}

/**
 * IPA's `_copy_config_from`: the files of `etc/ironic-python-agent{,.d}/` on the media into
 * `<root>/etc/`. Regular files only, where IPA's shutil.copy follows links: a link on the
 * media could name any file of this machine.
 */
function copyConfigFrom(mediaRoot: string, device: string, root: string, report: Report): void {
  for (const folder of CONFIG_FOLDERS) {
    const source = join(mediaRoot, 'etc', folder);
    if (!isFolder(source)) {
      report(`/etc/${folder} not found on ${device}`);
      continue;
    }
    const destination = join(root, 'etc', folder);
    report(`Copying configuration from /etc/${folder} on ${device} to ${destination}`);
    try {
      mkdirSync(destination, { recursive: true });
      for (const name of readdirSync(source).sort()) {
        if (!lstatSync(join(source, name)).isFile()) {
          report(`Not copying /etc/${folder}/${name} from ${device}: not a regular file`);
          continue;
        }
        copyFileSync(join(source, name), join(destination, name));
      }
    } catch (error) {
      report(`Unable to copy vmedia configuration /etc/${folder} on ${device} to ${destination}: ${(error as Error).message}`);
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * IPA's `copy_config_from_vmedia`. IPA also unmounts whatever cloud-init or glean mounted
 * on /mnt/config; nothing in this ramdisk mounts there.
 */
async function copyConfigFromMedia(root: string, search: MediaSearch, report: Report): Promise<void> {
  const exec = search.exec ?? run;
  const device = await findLabelledMedia(CONFIG_LABELS, search, report);
  if (!device) return;
  try {
    const mountedAt = await mountPointOf(device, exec);
    if (mountedAt) copyConfigFrom(mountedAt, device, root, report);
    else await withMountedMedia(device, report, (mountPoint) => copyConfigFrom(mountPoint, device, root, report), exec);
  } catch (error) {
    report(`Could not read configuration from virtual media ${device}: ${(error as Error).message}`);
  }
}

/**
 * The kernel command line's parameters with parameters.txt's over them, once IPA's
 * configuration on the boot ISO is copied under `root` (`/` in the ramdisk). IPA reads the
 * parameters before it copies; so does this.
 */
export async function applyVirtualMediaBoot(
  kernelParams: Readonly<Record<string, string>>,
  root: string,
  search: MediaSearch,
  report: Report,
): Promise<Record<string, string>> {
  const params = { ...kernelParams, ...(await readMediaParameters(search, report)) };
  await copyConfigFromMedia(root, search, report);
  return params;
}
