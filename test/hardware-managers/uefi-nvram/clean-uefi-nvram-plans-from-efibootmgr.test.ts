/**
 * clean_uefi_nvram: which entries IPA would delete, planned from captured `efibootmgr -v`
 * outputs (fixtures README), and the step refusing to run outside a ramdisk before it
 * starts any efibootmgr. This machine's NVRAM is never touched.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { run } from '../../../src/hardware/exec.js';
import { DeviceGuard, InvalidCommandParamsError, parseBootRecords, type StepContext } from '../../../src/hardware/index.js';
import { silentLogger } from '../../../src/hardware/logger.js';
import { compileMatchPatterns, planRemovals } from '../../../hardware-managers/uefi-nvram/boot-records.js';
import { cleanUefiNvram } from '../../../hardware-managers/uefi-nvram/index.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'uefi-nvram');
const read = (name: string) => readFile(join(FIXTURES, name));

describe('efibootmgr -v records', () => {
  it("reads every entry of a real machine's output as IPA's get_boot_records does", async () => {
    const records = parseBootRecords((await read('efibootmgr-v-lenovo-dell.txt')).toString('utf8'));
    expect(records.map((r) => [r.bootNum, r.label])).toEqual([
      ['0000', 'Red Hat Enterprise Linux'],
      ['0001', 'Fedora'],
      ['0002', 'Linux-Firmware-Updater'],
      ['0003', 'ThinkShield secure wipe'],
      ['0004', 'LENOVO CLOUD'],
      ['0005', 'IDER BOOT CDROM'],
      ['0006', 'ATA HDD'],
      ['0007', 'Hard drive C:'],
      ['AAA8', 'IBA GE Slot 0100 v1588'],
      ['0FF9', 'Virtual CD/DVD'],
      ['123A', 'Integrated NIC 1 Port 1 Partition 1'],
      ['000B', 'UEFI: PXE IPv4 Realtek PCIe 2.5GBE Family Controller'],
      ['0008', 'Generic USB Boot'],
      ['0009', 'Internal CD/DVD ROM Drive (UEFI)'],
    ]);
    expect(records[0]!.path).toBe(
      'HD(1,GPT,34178504-2340-4fe0-8001-264372cf9b2d,0x800,0x64000)/File(\\EFI\\redhat\\shimx64.efi)',
    );
    expect(records[11]!.path).toBe('PciRoot(0x0)/Pci(0x1c,0x0)/Pci(0x0,0x0)/MAC([REDACTED],0)/IPv4(0.0.0.00.0.0.0,0,0)..BO');
  });

  it('reads the same entries from a UTF-16 output that went through the UTF-8 exec wrapper', async () => {
    const utf16 = parseBootRecords((await read('efibootmgr-v-lenovo-dell.utf16')).toString('utf8'));
    const utf8 = parseBootRecords((await read('efibootmgr-v-lenovo-dell.txt')).toString('utf8'));
    expect(utf16).toEqual(utf8);
  });
});

describe('the removal plan', () => {
  it('removes the disk, shim and grub entries by default and keeps firmware, network and removable media', async () => {
    const records = parseBootRecords((await read('efibootmgr-v-lenovo-dell.txt')).toString('utf8'));
    const plan = planRemovals(records, compileMatchPatterns(undefined));
    expect(plan.map((p) => [p.bootNum, p.pattern])).toEqual([
      ['0000', '^HD\\('],
      ['0001', '^HD\\('],
      ['0002', '^HD\\('],
    ]);
  });

  it("matches IPA's own clean_boot_records case (patterns are case-insensitive)", async () => {
    const records = parseBootRecords((await read('efibootmgr-v-lenovo-dell.utf16')).toString('utf8'));
    const plan = planRemovals(records, compileMatchPatterns(['^HD\\(', 'shim.*\\.efi', '^usbclass']));
    expect(plan.map((p) => p.bootNum)).toEqual(['0000', '0001', '0002', '0008']);
  });

  it('takes Python regular expressions, named groups included', async () => {
    const records = parseBootRecords((await read('efibootmgr-v-opensuse.txt')).toString('utf8'));
    expect(planRemovals(records, compileMatchPatterns(['FREEBSD'])).map((p) => p.label)).toEqual(['FreeBSD']);
    expect(planRemovals(records, compileMatchPatterns(['\\\\(?P<dir>opensuse)\\\\shim'])).map((p) => p.label)).toEqual([
      'opensuse-secureboot',
    ]);
    expect(planRemovals(records, compileMatchPatterns([])).length).toBe(0);
  });

  it("refuses what is not a list of valid patterns with IPA's message", () => {
    for (const bad of ['^HD\\(', [1], ['(unclosed'], { a: 1 }]) {
      expect(() => compileMatchPatterns(bad)).toThrow(InvalidCommandParamsError);
    }
    expect(() => compileMatchPatterns(['ok', 2])).toThrow("The match_patterns must be a list of strings: ['ok', 2]");
  });
});

describe('running clean_uefi_nvram here', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startTestAgent();
  });
  afterAll(async () => {
    await agent.close();
  });

  it('is a manual clean and deploy step with its argsinfo', async () => {
    const client = new AgentTestClient(agent.url);
    const { body } = await client.post('clean.get_clean_steps', { node: {}, ports: [] }, true);
    const step = body.command_result.clean_steps.UefiNvramHardwareManager.find(
      (s: { step: string }) => s.step === 'clean_uefi_nvram',
    );
    expect(step).toMatchObject({ priority: 0, interface: 'deploy', abortable: true, reboot_requested: false });
    expect(step.argsinfo.match_patterns.required).toBe(false);
  });

  it('is refused outside a ramdisk before any efibootmgr runs', async () => {
    const commands: string[] = [];
    const ctx = {
      node: {},
      ports: [],
      phase: 'clean',
      log: silentLogger,
      guard: new DeviceGuard({ allowList: [] }),
      exec: (file: string, args?: readonly string[], options?: Parameters<typeof run>[2]) => {
        commands.push([file, ...(args ?? [])].join(' '));
        return run(file, args, options);
      },
    } as unknown as StepContext;
    expect(await ctx.guard.inRamdisk()).toBe(false);
    await expect(cleanUefiNvram(ctx, undefined)).rejects.toThrow(/refused outside a ramdisk/);
    expect(commands).toEqual([]);

    const client = new AgentTestClient(agent.url);
    const started = await client.post('clean.execute_clean_step', {
      step: { step: 'clean_uefi_nvram', interface: 'deploy', args: {} },
      node: {},
      ports: [],
    });
    const result = await client.waitFor(started.body.id);
    expect(result.command_status).toBe('FAILED');
    expect(result.command_error).toMatchObject({ type: 'CommandExecutionError', code: 500 });
    expect(result.command_error.details).toMatch(/refused outside a ramdisk/);
  });
});
