import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../src/hardware/block-devices.js';
import { DeviceNotFound } from '../../src/hardware/errors.js';
import {
  InvalidRootDeviceHint,
  matchesRootDeviceHints,
  parseRootDeviceHints,
  selectRootDevice,
} from '../../src/hardware/root-device-hints.js';
import { matchSpec } from '../../src/hardware/specs-matcher.js';

const GIB = 1024 ** 3;

function disk(overrides: Partial<BlockDevice>): BlockDevice {
  return {
    name: 'sda',
    path: '/dev/sda',
    majMin: '8:0',
    type: 'disk',
    sizeBytes: 100 * GIB,
    model: 'QEMU HARDDISK',
    vendor: 'ATA',
    serial: 'S1',
    wwn: '0x5000c500a1b2c3d4',
    wwnWithExtension: null,
    wwnVendorExtension: null,
    rotational: true,
    hctl: '0:0:0:0',
    byPath: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1',
    readOnly: false,
    removable: false,
    transport: 'sata',
    logicalSectorSize: 512,
    physicalSectorSize: 512,
    fsType: null,
    label: null,
    partitionTableType: null,
    partitionType: null,
    discardZeroesData: false,
    discardGranularity: 0,
    mountpoints: [],
    holders: [],
    parent: null,
    partitions: [],
    backingFile: null,
    ...overrides,
  };
}

describe('oslo specs_matcher semantics', () => {
  it('treats "=" as greater-or-equal and numeric ops as floats', () => {
    expect(matchSpec(100, '= 50')).toBe(true);
    expect(matchSpec(40, '= 50')).toBe(false);
    expect(matchSpec(100, '== 100.0')).toBe(true);
    expect(matchSpec(99.5, '< 100')).toBe(true);
    expect(matchSpec(100, '!= 100')).toBe(false);
  });
  it('supports string, <in>, <or>, <all-in> and <range-in>', () => {
    expect(matchSpec('abc', 's== abc')).toBe(true);
    expect(matchSpec('abc', 's!= abc')).toBe(false);
    expect(matchSpec('abd', 's> abc')).toBe(true);
    expect(matchSpec('samsung%20ssd', '<in> ssd')).toBe(true);
    expect(matchSpec('b', '<or> a <or> b <or> c')).toBe(true);
    expect(matchSpec('d', '<or> a <or> b')).toBe(false);
    expect(matchSpec('foo-bar-baz', '<all-in> foo baz')).toBe(true);
    expect(matchSpec(10, '<range-in> [ 10 20 ]')).toBe(true);
    expect(matchSpec(10, '<range-in> ( 10 20 ]')).toBe(false);
    expect(matchSpec(20, '<range-in> [ 10 20 )')).toBe(false);
  });
});

describe('root device hints', () => {
  it('matches bare strings case-insensitively, with spaces URL-quoted on both sides', () => {
    expect(matchesRootDeviceHints(disk({}), { model: 'qemu harddisk' })).toBe(true);
    expect(matchesRootDeviceHints(disk({}), { model: '<in> HARD' })).toBe(true);
    expect(matchesRootDeviceHints(disk({}), { model: 's!= QEMU HARDDISK' })).toBe(false);
    expect(matchesRootDeviceHints(disk({}), { name: '/dev/sda', serial: 's1' })).toBe(true);
    expect(matchesRootDeviceHints(disk({}), { name: '/dev/sdb' })).toBe(false);
  });

  it('compares size in GiB, so a bare size needs an exact match', () => {
    expect(matchesRootDeviceHints(disk({ sizeBytes: 100 * GIB }), { size: 100 })).toBe(true);
    expect(matchesRootDeviceHints(disk({ sizeBytes: 100 * GIB + 512 }), { size: 100 })).toBe(false);
    expect(matchesRootDeviceHints(disk({ sizeBytes: 100 * GIB + 512 }), { size: '>= 100' })).toBe(true);
    expect(matchesRootDeviceHints(disk({ sizeBytes: 20 * GIB }), { size: '<= 10' })).toBe(false);
  });

  it('compares rotational as a strict boolean and accepts IPA boolean strings', () => {
    expect(matchesRootDeviceHints(disk({ rotational: false }), { rotational: 'no' })).toBe(true);
    expect(matchesRootDeviceHints(disk({ rotational: true }), { rotational: false })).toBe(false);
  });

  it('matches every hint key IPA knows', () => {
    const device = disk({ wwnWithExtension: '0x5000c500a1b2c3d4-ext', wwnVendorExtension: 'ext' });
    expect(
      matchesRootDeviceHints(device, {
        size: 100,
        model: 'QEMU HARDDISK',
        wwn: '0x5000C500A1B2C3D4',
        serial: 'S1',
        vendor: 'ata',
        wwn_with_extension: '0x5000c500a1b2c3d4-ext',
        wwn_vendor_extension: 'ext',
        name: '/dev/sda',
        rotational: true,
        hctl: '0:0:0:0',
        by_path: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1',
        tran: 'sata',
      }),
    ).toBe(true);
  });

  it('lets a missing attribute equal "none", like str(None) in IPA', () => {
    expect(matchesRootDeviceHints(disk({ serial: null }), { serial: 'None' })).toBe(true);
    expect(matchesRootDeviceHints(disk({ serial: null }), { serial: 'S1' })).toBe(false);
  });

  it('rejects unknown keys, wrong types and non-positive sizes with IPA messages', () => {
    expect(() => parseRootDeviceHints({ colour: 'red' })).toThrow(/The hints "colour" are invalid/);
    expect(() => parseRootDeviceHints({ model: 5 })).toThrow('Root device hint "model" is not a string value');
    expect(() => parseRootDeviceHints({ size: 'big' })).toThrow('Root device hint "size" is not an integer value');
    expect(() => parseRootDeviceHints({ size: 0 })).toThrow('Root device hint "size" should be a positive integer');
    expect(() => parseRootDeviceHints({ rotational: 'maybe' })).toThrow(InvalidRootDeviceHint);
  });
});

describe('selectRootDevice', () => {
  const small = disk({ name: 'sdc', path: '/dev/sdc', sizeBytes: 2 * GIB });
  const mid = disk({ name: 'sdb', path: '/dev/sdb', sizeBytes: 8 * GIB });
  const big = disk({ name: 'sda', path: '/dev/sda', sizeBytes: 100 * GIB });

  it('without hints takes the smallest disk of at least 4 GiB', () => {
    expect(selectRootDevice([big, small, mid]).path).toBe('/dev/sdb');
  });

  it("without hints and only small disks fails with IPA's DeviceNotFound message", () => {
    expect(() => selectRootDevice([small])).toThrow(DeviceNotFound);
    expect(() => selectRootDevice([small])).toThrow(
      'No suitable device was found for deployment - root device hints were not provided and all found block devices are smaller than 4294967296B.',
    );
  });

  it('with hints takes the first match in list order', () => {
    expect(selectRootDevice([big, mid], { size: '>= 5' }).path).toBe('/dev/sda');
    expect(() => selectRootDevice([big], { name: '/dev/sdz' })).toThrow(
      "No suitable device was found for deployment using these hints {'name': '/dev/sdz'}",
    );
    expect(() => selectRootDevice([big], { size: -1 })).toThrow(/failed to validate/);
  });
});
