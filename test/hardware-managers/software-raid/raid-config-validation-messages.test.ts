import { describe, expect, it } from 'vitest';
import {
  ironicSchemaError,
  validateIronicRaidConfig,
  validateSoftwareRaidConfig,
  type RaidConfig,
} from '../../../hardware-managers/software-raid/raid-config.js';

const node = { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123' };
const root = { size_gb: 10, raid_level: '1', controller: 'software', volume_name: 'root', is_root_volume: true };
const data = (raid_level: string) => ({ size_gb: 'MAX' as const, raid_level, controller: 'software', volume_name: 'data' });

function softwareError(config: RaidConfig, disks = 4, skip: string[] = []): string {
  try {
    validateSoftwareRaidConfig(config, node, disks, skip);
  } catch (error) {
    return (error as { details: string }).details;
  }
  return 'valid';
}

describe("Ironic's schema (validate_raid_config), with jsonschema's messages", () => {
  it.each([
    ['not an object', [], "[] is not of type 'object'"],
    ['no logical_disks', {}, "'logical_disks' is a required property"],
    ['empty logical_disks', { logical_disks: [] }, '[] is too short'],
    [
      'an unknown top-level key',
      { logical_disks: [root], foo: 1 },
      "Additional properties are not allowed ('foo' was unexpected)",
    ],
    ['missing size_gb', { logical_disks: [{ raid_level: '1' }] }, "'size_gb' is a required property"],
    [
      'an unknown level',
      { logical_disks: [{ raid_level: '3', size_gb: 10 }] },
      "'3' is not one of ['JBOD', '0', '1', '2', '5', '6', '1+0', '5+0', '6+0']",
    ],
    [
      'a size that is neither integer nor MAX',
      { logical_disks: [{ raid_level: '1', size_gb: 'big' }] },
      "'big' is not valid under any of the given schemas",
    ],
    ['a negative size', { logical_disks: [{ raid_level: '1', size_gb: -1 }] }, '-1 is not valid under any of the given schemas'],
    [
      'physical_disks without controller',
      { logical_disks: [{ raid_level: '1', size_gb: 10, physical_disks: [{ name: '/dev/sda' }, { name: '/dev/sdb' }] }] },
      "'controller' is a dependency of 'physical_disks'",
    ],
    [
      'a non-boolean is_root_volume',
      { logical_disks: [{ raid_level: '1', size_gb: 10, is_root_volume: 'yes' }] },
      "'yes' is not of type 'boolean'",
    ],
    [
      'two unknown logical-disk keys',
      { logical_disks: [{ raid_level: '1', size_gb: 10, a: 1, b: 2 }] },
      "Additional properties are not allowed ('a', 'b' were unexpected)",
    ],
  ])('%s', (_what, config, message) => {
    expect(ironicSchemaError(config)).toBe(message);
    expect(() => validateIronicRaidConfig(config)).toThrow(
      expect.objectContaining({ details: `RAID config validation error: ${message}` }),
    );
  });

  it('reports the least deep error first, as best_match does', () => {
    expect(ironicSchemaError({ logical_disks: [{ raid_level: '9', size_gb: 1 }], extra: true })).toBe(
      "Additional properties are not allowed ('extra' was unexpected)",
    );
  });

  it('refuses two root volumes with Ironic’s message', () => {
    const config = { logical_disks: [root, { ...data('0'), is_root_volume: true }] };
    expect(() => validateIronicRaidConfig(config)).toThrow(
      expect.objectContaining({ details: 'Raid config cannot have more than one root volume. 2 root volumes were specified' }),
    );
  });

  it('accepts a RAID-1 root plus a MAX data volume', () => {
    expect(ironicSchemaError({ logical_disks: [root, data('0')] })).toBeUndefined();
  });
});

describe("IPA's software RAID checks (validate_configuration), messages verbatim", () => {
  const prefix = `Could not validate Software RAID config for ${node.uuid}: `;

  it.each(['0', '1', '1+0', '5', '6'])('accepts RAID-%s as the second logical disk with four disks', (level) => {
    expect(softwareError({ logical_disks: [root, data(level)] })).toBe('valid');
  });

  it('requires RAID-1 first', () => {
    expect(softwareError({ logical_disks: [{ ...root, raid_level: '0' }] })).toBe(
      `${prefix}Software RAID Configuration requires RAID-1 for the first logical disk`,
    );
  });

  it('refuses RAID-5 on two disks and RAID-6 on three', () => {
    expect(softwareError({ logical_disks: [root, data('5')] }, 2)).toBe(
      `${prefix}Software RAID configuration is not possible for RAID level 5 with only 2 block devices found.`,
    );
    expect(softwareError({ logical_disks: [root, data('6')] }, 3)).toBe(
      `${prefix}Software RAID configuration is not possible for RAID level 6 with only 3 block devices found.`,
    );
  });

  it('joins every problem with "; "', () => {
    const config = {
      logical_disks: [
        { ...root, controller: 'hardware', size_gb: 'MAX' as const },
        { ...data('2+0'), volume_name: 'root' },
      ],
    };
    expect(softwareError(config)).toBe(
      prefix +
        [
          "Software RAID configuration requires all logical disks to have 'controller'='software'",
          'Duplicate software RAID device name root detected',
          "Software RAID can have only one RAID device with size 'MAX'",
          'Software RAID configuration does not support RAID level 2+0',
        ].join('; '),
    );
  });

  it('wants one or two logical disks, physical_disks as ≥ 2 hint dicts, volume names with a skip list', () => {
    expect(softwareError({ logical_disks: [root, data('0'), { ...data('1'), volume_name: 'x' }] })).toContain(
      'Software RAID configuration requires one or two logical disks',
    );
    expect(softwareError({ logical_disks: [{ ...root, physical_disks: [{ name: '/dev/sda' }] }] })).toContain(
      'The physical_disks parameter for software RAID must be a list with at least 2 items, each specifying a disk in the device hints format',
    );
    expect(softwareError({ logical_disks: [{ ...root, physical_disks: ['/dev/sda', '/dev/sdb'] }] })).toContain(
      'The physical_disks parameter for software RAID must be a list of device hints (dictionaries)',
    );
    const { volume_name: _unnamed, ...noName } = root;
    expect(softwareError({ logical_disks: [noName] }, 2, ['data'])).toContain(
      'All logical disks are required to have a volume name specified as a volume name is mentioned in the property skip block devices.',
    );
  });
});
