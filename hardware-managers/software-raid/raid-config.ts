/**
 * Validation of a RAID configuration, in two layers with the exact messages a stock
 * deployment produces:
 *  1. Ironic's `validate_raid_config` (ironic/common/raid.py): the JSON schema of
 *     drivers/raid_config_schema.json, reported as jsonschema's best match
 *     ("RAID config validation error: ..."), then at most one root volume.
 *  2. IPA's `validate_configuration` for software RAID: one or two logical disks, all
 *     `controller: software`, RAID-1 first, the second in 0/1/1+0/5/6, one `MAX`, enough
 *     disks for RAID-5/6, `physical_disks` a list of ≥ 2 device hints, unique volume names.
 * Both raise SoftwareRAIDError: the agent is where a config given to apply_configuration
 * is first checked as a whole, and Ironic shows the message in `last_error` either way.
 */
import { pythonRepr, SoftwareRAIDError, type IronicNode } from '../../src/hardware/index.js';

type RaidLevel = '0' | '1' | '1+0' | '5' | '6';

export interface LogicalDisk {
  raid_level: string;
  size_gb: number | 'MAX';
  volume_name?: string;
  is_root_volume?: boolean;
  controller?: string;
  physical_disks?: unknown[];
  [key: string]: unknown;
}

export interface RaidConfig {
  logical_disks: LogicalDisk[];
}

const IRONIC_LEVELS = ['JBOD', '0', '1', '2', '5', '6', '1+0', '5+0', '6+0'];
const SOFTWARE_RAID_LEVELS: readonly RaidLevel[] = ['0', '1', '1+0', '5', '6'];

/** The logical-disk keys Ironic's schema allows (additionalProperties: false). */
const LOGICAL_DISK_KEYS = [
  'raid_level',
  'size_gb',
  'volume_name',
  'is_root_volume',
  'share_physical_disks',
  'disk_type',
  'interface_type',
  'number_of_physical_disks',
  'controller',
  'physical_disks',
];

interface SchemaError {
  depth: number;
  message: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function typeError(value: unknown, type: string): string {
  return `${pythonRepr(value)} is not of type '${type}'`;
}

function unexpected(keys: string[]): string {
  const names = keys.map((k) => pythonRepr(k)).join(', ');
  return `Additional properties are not allowed (${names} ${keys.length === 1 ? 'was' : 'were'} unexpected)`;
}

/** Errors of one logical disk, in the order jsonschema's Draft 4 validator yields them. */
function logicalDiskErrors(disk: unknown, depth: number, errors: SchemaError[]): void {
  if (!isObject(disk)) {
    errors.push({ depth, message: typeError(disk, 'object') });
    return;
  }
  const at = depth + 1;
  const check = (key: string, message: string | undefined) => {
    if (key in disk && message) errors.push({ depth: at, message });
  };
  const level = disk.raid_level;
  check(
    'raid_level',
    typeof level !== 'string'
      ? typeError(level, 'string')
      : IRONIC_LEVELS.includes(level)
        ? undefined
        : `${pythonRepr(level)} is not one of ${pythonRepr(IRONIC_LEVELS)}`,
  );
  const size = disk.size_gb;
  check(
    'size_gb',
    (isInteger(size) && size >= 0) || size === 'MAX'
      ? undefined
      : `${pythonRepr(size)} is not valid under any of the given schemas`,
  );
  check('volume_name', typeof disk.volume_name === 'string' ? undefined : typeError(disk.volume_name, 'string'));
  check('is_root_volume', typeof disk.is_root_volume === 'boolean' ? undefined : typeError(disk.is_root_volume, 'boolean'));
  check(
    'share_physical_disks',
    typeof disk.share_physical_disks === 'boolean' ? undefined : typeError(disk.share_physical_disks, 'boolean'),
  );
  for (const [key, allowed] of [
    ['disk_type', ['hdd', 'ssd']],
    ['interface_type', ['sata', 'scsi', 'sas']],
  ] as const) {
    const value = disk[key];
    check(
      key,
      typeof value !== 'string'
        ? typeError(value, 'string')
        : (allowed as readonly string[]).includes(value)
          ? undefined
          : `${pythonRepr(value)} is not one of ${pythonRepr(allowed)}`,
    );
  }
  const count = disk.number_of_physical_disks;
  check(
    'number_of_physical_disks',
    !isInteger(count)
      ? typeError(count, 'integer')
      : count <= 0
        ? `${pythonRepr(count)} is less than or equal to the minimum of 0`
        : undefined,
  );
  check('controller', typeof disk.controller === 'string' ? undefined : typeError(disk.controller, 'string'));
  const physical = disk.physical_disks;
  const physicalOk =
    Array.isArray(physical) &&
    (physical.every((p) => typeof p === 'string') || (physical.every(isObject) && physical.length >= 2));
  check('physical_disks', physicalOk ? undefined : `${pythonRepr(physical)} is not valid under any of the given schemas`);
  for (const key of ['raid_level', 'size_gb']) {
    if (!(key in disk)) errors.push({ depth, message: `${pythonRepr(key)} is a required property` });
  }
  const extra = Object.keys(disk).filter((k) => !LOGICAL_DISK_KEYS.includes(k));
  if (extra.length > 0) errors.push({ depth, message: unexpected(extra) });
  if ('physical_disks' in disk && !('controller' in disk)) {
    errors.push({ depth, message: `'controller' is a dependency of 'physical_disks'` });
  }
}

/**
 * jsonschema's `best_match` over the schema's errors: the least deep error wins, the first
 * one yielded among equals. Returns undefined when the config is valid.
 */
export function ironicSchemaError(config: unknown): string | undefined {
  const errors: SchemaError[] = [];
  if (!isObject(config)) {
    errors.push({ depth: 0, message: typeError(config, 'object') });
  } else {
    const disks = config.logical_disks;
    if ('logical_disks' in config) {
      if (!Array.isArray(disks)) errors.push({ depth: 1, message: typeError(disks, 'array') });
      else {
        disks.forEach((disk) => logicalDiskErrors(disk, 2, errors));
        if (disks.length < 1) errors.push({ depth: 1, message: `${pythonRepr(disks)} is too short` });
      }
    } else {
      errors.push({ depth: 0, message: `'logical_disks' is a required property` });
    }
    const extra = Object.keys(config).filter((k) => k !== 'logical_disks');
    if (extra.length > 0) errors.push({ depth: 0, message: unexpected(extra) });
  }
  if (errors.length === 0) return undefined;
  const best = errors.reduce((a, b) => (b.depth < a.depth ? b : a));
  return best.message;
}

/** Ironic's `validate_configuration(raid_config, schema)`: schema, then root volumes. */
export function validateIronicRaidConfig(config: unknown): asserts config is RaidConfig {
  const schemaError = ironicSchemaError(config);
  if (schemaError) throw new SoftwareRAIDError(`RAID config validation error: ${schemaError}`);
  const roots = (config as RaidConfig).logical_disks.filter((d) => d.is_root_volume).length;
  if (roots > 1) {
    throw new SoftwareRAIDError(`Raid config cannot have more than one root volume. ${roots} root volumes were specified`);
  }
}

/** True when at least one logical disk asks for software RAID (else IPA leaves it to hardware RAID). */
export function wantsSoftwareRaid(config: RaidConfig): boolean {
  return config.logical_disks.some((d) => d.controller === 'software');
}

/**
 * IPA's `validate_configuration` (hardware.py), messages verbatim. `diskCount` is the number
 * of disks the agent found, as IPA counts `list_block_devices()` for RAID-5/6.
 */
export function validateSoftwareRaidConfig(
  config: RaidConfig,
  node: IronicNode,
  diskCount: number,
  skipListVolumes: readonly string[],
): void {
  const disks = config.logical_disks;
  if (disks.length === 0) throw new SoftwareRAIDError('RAID config contains no logical disks');
  const problems: string[] = [];
  if (disks.length !== 1 && disks.length !== 2) problems.push('Software RAID configuration requires one or two logical disks');
  const names: string[] = [];
  let rootSeen = false;
  for (const disk of disks) {
    if (disk.controller !== 'software') {
      problems.push("Software RAID configuration requires all logical disks to have 'controller'='software'");
    }
    if (disk.volume_name === undefined) {
      if (skipListVolumes.length > 0) {
        problems.push(
          'All logical disks are required to have a volume name specified as a volume name is mentioned in the property skip block devices.',
        );
      }
    } else if (names.includes(disk.volume_name)) {
      problems.push(`Duplicate software RAID device name ${disk.volume_name} detected`);
    } else {
      names.push(disk.volume_name);
    }
    if (disk.is_root_volume) {
      if (rootSeen) problems.push('Software RAID configuration allows only one logical disk to be marked as is_root_volume');
      rootSeen = true;
    }
    const physical = disk.physical_disks;
    if (physical !== undefined) {
      if (!Array.isArray(physical) || physical.length < 2) {
        problems.push(
          'The physical_disks parameter for software RAID must be a list with at least 2 items, each specifying a disk in the device hints format',
        );
      }
      if (Array.isArray(physical) && physical.some((p) => !isObject(p))) {
        problems.push('The physical_disks parameter for software RAID must be a list of device hints (dictionaries)');
      }
    }
  }
  if (disks[0]!.raid_level !== '1') problems.push('Software RAID Configuration requires RAID-1 for the first logical disk');
  if (disks.length === 2) {
    if (disks[0]!.size_gb === 'MAX' && disks[1]!.size_gb === 'MAX') {
      problems.push("Software RAID can have only one RAID device with size 'MAX'");
    }
    const level = disks[1]!.raid_level;
    if (!(SOFTWARE_RAID_LEVELS as readonly string[]).includes(level)) {
      problems.push(`Software RAID configuration does not support RAID level ${level}`);
    }
    if (level === '5' && diskCount < 3) {
      problems.push(`Software RAID configuration is not possible for RAID level 5 with only ${diskCount} block devices found.`);
    }
    if (level === '6' && diskCount < 4) {
      problems.push(`Software RAID configuration is not possible for RAID level 6 with only ${diskCount} block devices found.`);
    }
  }
  if (problems.length > 0) {
    throw new SoftwareRAIDError(`Could not validate Software RAID config for ${node.uuid ?? 'None'}: ${problems.join('; ')}`);
  }
}

/** Logical disks with the `MAX` one last, as IPA partitions them (partition i+1 → md<i>). */
export function orderForPartitioning(disks: readonly LogicalDisk[]): LogicalDisk[] {
  const max = disks.filter((d) => d.size_gb === 'MAX');
  return [...disks.filter((d) => d.size_gb !== 'MAX'), ...max];
}
