/**
 * A config drive given as a dict (instance_info `configdrive` with `meta_data`, `user_data`,
 * `network_data`, `vendor_data`), built into what the agent takes, as Ironic 2023.1's
 * `conductor/utils.py` `get_configdrive_image` / `build_configdrive` with openstacksdk's
 * `baremetal/configdrive.py` `build` and `pack`: openstack/{2012-08-10,latest}/ holding
 * meta_data.json (uuid and, when the node has one, name filled in), user_data, network_data.json
 * and vendor_data2.json, packed by genisoimage, else mkisofs, else xorrisofs into an ISO9660
 * labelled `config-2`, gzipped and base64-encoded. A string (the ISO already packed, or a URL)
 * goes to the agent unchanged.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InstanceDeployFailure, InvalidParameterValue } from './errors.js';
import type { NodeData } from './node.js';

const ISO_TOOLS = ['genisoimage', 'mkisofs', 'xorrisofs'] as const;
const VERSIONS = ['2012-08-10', 'latest'];
const KEYS = ['meta_data', 'user_data', 'network_data', 'vendor_data'];
export const MISSING_ISO_TOOL =
  'Error generating the configdrive. Make sure the "genisoimage", "mkisofs" or "xorrisofs" tool is installed.';

type ConfigdriveDict = Record<string, unknown>;

function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Python's truthiness, for `if network_data:` and the like. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isDict(value)) return Object.keys(value).length > 0;
  return !!value;
}

/** Python's `json.dumps` defaults (", " and ": " separators, non-ASCII escaped), as Ironic writes the files. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (isDict(value)) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`)
      .join(', ')}}`;
  }
  return (JSON.stringify(value) ?? 'null').replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The first of genisoimage, mkisofs, xorrisofs on PATH (openstacksdk's order). */
function findIsoTool(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const tool of ISO_TOOLS) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, tool), constants.X_OK);
        return join(dir, tool);
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}

/**
 * Before any deploy step runs: a dict config drive must have Ironic's shape and a tool to pack
 * it (Ironic finds out only at write_image, after the agent booted; here nothing has happened yet).
 */
export function checkConfigdrive(node: NodeData): void {
  const configdrive = node.instanceInfo.configdrive;
  if (!isDict(configdrive)) return;
  const unknown = Object.keys(configdrive).filter((key) => !KEYS.includes(key));
  if (unknown.length > 0) {
    throw new InvalidParameterValue(
      `Invalid configdrive for node ${node.uuid}: unexpected keys ${unknown.join(', ')}; expected ${KEYS.join(', ')}`,
    );
  }
  for (const key of ['meta_data', 'network_data', 'vendor_data']) {
    const value = configdrive[key];
    if (value !== undefined && value !== null && !isDict(value)) {
      throw new InvalidParameterValue(`Invalid configdrive for node ${node.uuid}: ${key} must be a dict`);
    }
  }
  if (!findIsoTool()) throw new InstanceDeployFailure(MISSING_ISO_TOOL);
}

function runTool(tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { timeout: 120_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (!error) resolve();
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') reject(new InstanceDeployFailure(MISSING_ISO_TOOL));
      else reject(new InstanceDeployFailure(`Error generating the configdrive.Stdout: "${stdout}". Stderr: "${stderr}"`));
    });
  });
}

/** `build_configdrive`: the gzipped, base64-encoded ISO for a dict config drive. */
async function buildConfigdrive(node: NodeData, configdrive: ConfigdriveDict): Promise<string> {
  const metaData = { ...(isDict(configdrive.meta_data) ? configdrive.meta_data : {}) };
  // dict.setdefault: a key the operator gave, even null, stays.
  if (!('uuid' in metaData)) metaData.uuid = node.uuid;
  if (node.name && !('name' in metaData)) metaData.name = node.name;
  const userData = configdrive.user_data;
  const userBytes =
    Array.isArray(userData) || isDict(userData)
      ? Buffer.from(pythonJson(userData))
      : truthy(userData)
        ? Buffer.from(String(userData), 'utf8')
        : undefined;
  const tool = findIsoTool();
  if (!tool) throw new InstanceDeployFailure(MISSING_ISO_TOOL);
  const dir = mkdtempSync(join(tmpdir(), 'configdrive-'));
  try {
    const tree = join(dir, 'tree');
    for (const version of VERSIONS) {
      const sub = join(tree, 'openstack', version);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, 'meta_data.json'), pythonJson(metaData));
      if (truthy(configdrive.network_data)) writeFileSync(join(sub, 'network_data.json'), pythonJson(configdrive.network_data));
      if (truthy(configdrive.vendor_data)) writeFileSync(join(sub, 'vendor_data2.json'), pythonJson(configdrive.vendor_data));
      if (userBytes) writeFileSync(join(sub, 'user_data'), userBytes);
    }
    const iso = join(dir, 'configdrive.iso');
    // openstacksdk's arguments, which the three tools all understand.
    await runTool(tool, [
      '-o',
      iso,
      '-ldots',
      '-allow-lowercase',
      '-allow-multidot',
      '-l',
      '-publisher',
      'metalsmith',
      '-quiet',
      '-J',
      '-r',
      '-V',
      'config-2',
      tree,
    ]);
    return gzipSync(readFileSync(iso)).toString('base64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `get_configdrive_image`: a dict is built into an ISO; a string (ISO or URL) is returned unchanged. */
export async function configdriveImage(node: NodeData): Promise<unknown> {
  const configdrive = node.instanceInfo.configdrive;
  if (isDict(configdrive)) return buildConfigdrive(node, configdrive);
  return configdrive ?? null;
}
