/**
 * The BMC part of the inventory is what IPA reads from the same ipmitool answers
 * (get_bmc_address, get_bmc_v6address, get_bmc_mac). ipmitool cannot reach a BMC here: the
 * answers are real outputs captured on servers (test/fixtures/inventory/README.md), given
 * for channel 1 while every other channel fails as a non-LAN channel does ("Invalid channel").
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Exec } from '../../../src/hardware/exec.js';
import { detectBmc } from '../../../src/hardware/inventory/bmc.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'inventory');

/** ipmitool answering `lan print 1` / `lan6 print 1` with these files (null: ipmitool fails). */
async function ipmitool(lanFile: string | null, lan6File: string | null): Promise<{ exec: Exec; calls: string[] }> {
  const lan = lanFile && (await readFile(join(FIXTURES, lanFile), 'utf8'));
  const lan6 = lan6File && (await readFile(join(FIXTURES, lan6File), 'utf8'));
  const calls: string[] = [];
  const exec: Exec = async (file, args = []) => {
    const command = [file, ...args].join(' ');
    calls.push(command);
    const stdout = command === 'ipmitool lan print 1' ? lan : command === 'ipmitool lan6 print 1' ? lan6 : null;
    if (!stdout) throw new Error(`${command} failed: Invalid channel: ${args[2]}`);
    return { command, exitCode: 0, stdout, stderr: '', durationMs: 0 };
  };
  return { exec, calls };
}

describe('BMC facts in the inventory', () => {
  it('an HPE iLO 4 with no IPv4 address and only its SLAAC link-local: 0.0.0.0, the fe80:: address, no bmc_mac', async () => {
    const { exec } = await ipmitool('ipmitool-lan-print-hpe-g8-no-ipv4.txt', 'ipmitool-lan6-print-hpe-g8-link-local.txt');
    // IPA: get_bmc_v6address returns the first active SLAAC/DHCPv6 address, link-local or
    // not; get_bmc_mac skips a channel at 0.0.0.0 without a routable IPv6 address.
    expect(await detectBmc(exec)).toEqual({ v4: '0.0.0.0', v6: 'fe80::5a20:ffff:feff:ffff', mac: null });
  });

  it('a BMC with a DHCP address: that address and its MAC, ::/0 when lan6 is not supported', async () => {
    const { exec, calls } = await ipmitool('ipmitool-lan-print-dhcp.txt', null);
    expect(await detectBmc(exec)).toEqual({ v4: '10.155.8.180', v6: '::/0', mac: '00:26:fd:a0:0d:52' });
    // lan6 is asked of the LAN channel only.
    expect(calls.filter((c) => c.startsWith('ipmitool lan6'))).toEqual(['ipmitool lan6 print 1']);
  });

  it('an IPMI device whose BMC answers nothing: 0.0.0.0 and ::/0 as IPA reports, no bmc_mac', async () => {
    const { exec, calls } = await ipmitool(null, null);
    expect(await detectBmc(exec)).toEqual({ v4: '0.0.0.0', v6: '::/0', mac: null });
    expect(calls).toHaveLength(11);
  });
});
