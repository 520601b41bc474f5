/**
 * install_bootloader's efibootmgr calls, as IPA's _run_efibootmgr makes them: an entry whose
 * label is the new loader's is removed before the loader is added, so a redeployed machine
 * does not gather one more entry per deployment. The NVRAM is the captured `efibootmgr -v`
 * output of real machines (test/fixtures/uefi-nvram/README.md: IPA's test_efi_utils capture,
 * and the same bytes as UTF-16, as some efibootmgr builds print it); efibootmgr itself never
 * runs: the exec answers `-v` with the capture and records every other call, and the test
 * calls what registerBootEntries runs once it has found efibootmgr and a UEFI boot (this
 * machine has neither to offer).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replaceBootEntries } from '../../../src/hardware/image/uefi-boot.js';
import type { PartitionEntry } from '../../../src/hardware/index.js';
import { createFakeStepContext } from '../../../src/testing/index.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'uefi-nvram');

const ESP: PartitionEntry = {
  number: 1,
  node: '/dev/sdz1',
  startBytes: 1024 * 1024,
  sizeBytes: 200 * 1024 * 1024,
  type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  partUuid: undefined,
  name: 'EFI System Partition',
};

/** The efibootmgr calls made for `loaders` against the NVRAM captured in `fixture`. */
async function callsAgainst(fixture: string, loaders: { label: string; path: string }[]): Promise<string[][]> {
  // The exec wrapper hands stdout over as UTF-8 text, whatever efibootmgr printed.
  const captured = (await readFile(join(FIXTURES, fixture))).toString('utf8');
  const fake = createFakeStepContext({
    exec: (file, args) => {
      if (file !== 'efibootmgr') throw new Error(`unexpected ${file}`);
      return args.length === 1 && args[0] === '-v' ? { stdout: captured } : {};
    },
  });
  await replaceBootEntries(fake.ctx.exec, '/dev/sdz', ESP, loaders);
  return fake.execCalls.map((c) => [c.file, ...c.args]);
}

const RHEL = { label: 'Red Hat Enterprise Linux', path: '\\EFI\\redhat\\shimx64.efi' };
const ADD_RHEL = ['efibootmgr', '-v', '-c', '-d', '/dev/sdz', '-p', '1', '-w', '-L', RHEL.label, '-l', RHEL.path];

describe('UEFI boot entries of a redeployed machine', () => {
  it('removes the entry of the same label before adding the loader (UTF-8 output)', async () => {
    expect(await callsAgainst('efibootmgr-v-lenovo-dell.txt', [RHEL])).toEqual([
      ['efibootmgr', '-v'],
      ['efibootmgr', '-b', '0000', '-B'],
      ADD_RHEL,
    ]);
  });

  it('finds that entry in the UTF-16 output some efibootmgr builds print, as IPA decodes it', async () => {
    expect(await callsAgainst('efibootmgr-v-lenovo-dell.utf16', [RHEL])).toEqual([
      ['efibootmgr', '-v'],
      ['efibootmgr', '-b', '0000', '-B'],
      ADD_RHEL,
    ]);
  });

  it('removes only entries of exactly that label', async () => {
    const calls = await callsAgainst('efibootmgr-v-lenovo-dell.utf16', [{ label: 'Fedora', path: '\\EFI\\fedora\\shimx64.efi' }]);
    expect(calls.filter((c) => c.includes('-B'))).toEqual([['efibootmgr', '-b', '0001', '-B']]);
    const none = await callsAgainst('efibootmgr-v-opensuse.txt', [{ label: 'ironic1', path: '\\EFI\\BOOT\\BOOTX64.EFI' }]);
    expect(none.filter((c) => c.includes('-B'))).toEqual([]);
  });
});
