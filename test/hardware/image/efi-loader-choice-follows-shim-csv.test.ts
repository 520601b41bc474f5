/** Which loaders get UEFI boot entries, from the files on an ESP (IPA's preference: shim's CSV, shim, grub, removable path). */
import { describe, expect, it } from 'vitest';
import { chooseLoaders } from '../../../src/hardware/index.js';

const noRead = async (): Promise<Buffer> => {
  throw new Error('not expected to read');
};

describe('EFI loader choice', () => {
  it("uses shim's UCS-2 BOOTX64.CSV label and loader when the distribution ships one", async () => {
    const csv = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('shimx64.efi,Red Hat Enterprise Linux,,This is the boot entry for RHEL\n', 'utf16le'),
    ]);
    const files = ['EFI/BOOT/BOOTX64.EFI', 'EFI/redhat/BOOTX64.CSV', 'EFI/redhat/shimx64.efi', 'EFI/redhat/grubx64.efi'];
    const loaders = await chooseLoaders(files, async (path) => {
      expect(path).toBe('EFI/redhat/BOOTX64.CSV');
      return csv;
    });
    expect(loaders).toEqual([{ path: '\\EFI\\redhat\\shimx64.efi', label: 'Red Hat Enterprise Linux' }]);
  });

  it('falls back to shim, then grub, then the removable-media loader', async () => {
    expect(await chooseLoaders(['EFI/BOOT/BOOTX64.EFI', 'EFI/debian/grubx64.efi', 'EFI/debian/shimx64.efi'], noRead)).toEqual([
      { path: '\\EFI\\debian\\shimx64.efi', label: 'debian' },
    ]);
    expect(await chooseLoaders(['EFI/BOOT/BOOTX64.EFI', 'EFI/ubuntu/grubx64.efi'], noRead)).toEqual([
      { path: '\\EFI\\ubuntu\\grubx64.efi', label: 'ubuntu' },
    ]);
    expect(await chooseLoaders(['EFI/BOOT/BOOTX64.EFI'], noRead)).toEqual([
      { path: '\\EFI\\BOOT\\BOOTX64.EFI', label: 'ironic1' },
    ]);
    expect(await chooseLoaders(['EFI/BOOT/readme.txt'], noRead)).toEqual([]);
  });
});
