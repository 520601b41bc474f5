// A vendor manager that wins erase_devices / erase_devices_metadata at priority 0 (IPA's
// de-duplication: highest support wins) turns off the disk erasure of automated cleaning.
// The listing stays IPA's, but the agent logs one warning per step and reports it beside the
// listing, where an operator reading get_clean_steps (or a plugin author's test) looks.
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const REPO = join(import.meta.dirname, '..', '..');
const GENERIC_ERASE = join(REPO, 'hardware-managers', 'generic-disk-erase');
const VENDOR = join(REPO, 'test', 'fixtures', 'erase-shadowing', 'vendor-manual-erase');

let agent: RunningAgent;
let client: AgentTestClient;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
  });
  agent = await startTestAgent(
    { loadShippedManagers: false, hardwareManagerPaths: [GENERIC_ERASE, VENDOR] },
    { logLevel: 'info', logStream },
  );
  await agent.ready;
  client = new AgentTestClient(agent.url);
});

afterAll(async () => {
  await agent?.close();
});

const getCleanSteps = async () => {
  const { status, body } = await client.post('clean.get_clean_steps', { node: {}, ports: [] }, true);
  expect(status).toBe(200);
  expect(body.command_status).toBe('SUCCEEDED');
  return body.command_result;
};

const shadowWarnings = () =>
  lines.filter((l) => l.level === 40 && String(l.msg).includes('automated cleaning will not erase disks'));

describe('an erase step shadowed at priority 0', () => {
  it('logs one warning per step as the managers load, not one per listing', async () => {
    const expected = [
      ['vendor_manual_erase', 'erase_devices'],
      ['vendor_manual_erase', 'erase_devices_metadata'],
    ];
    expect(shadowWarnings().map((l) => [l.manager, l.step])).toEqual(expected);
    await getCleanSteps();
    await getCleanSteps();
    const warned = shadowWarnings().map((l) => [l.manager, l.step]);
    expect(warned).toEqual(expected);
  });

  it('keeps IPA de-duplication: the vendor manager wins both names at priority 0', async () => {
    const result = await getCleanSteps();
    const vendor = result.clean_steps.VendorManualEraseManager.map((s: any) => [s.step, s.priority]);
    expect(vendor).toEqual([
      ['erase_devices', 0],
      ['erase_devices_metadata', 0],
    ]);
    const generic = result.clean_steps.GenericDiskEraseHardwareManager.map((s: any) => s.step);
    expect(generic).not.toContain('erase_devices');
    expect(generic).not.toContain('erase_devices_metadata');
  });

  it('reports it beside the listing, naming the manager, the step and the way out', async () => {
    const result = await getCleanSteps();
    const messages = result.hardware_manager_problems.map((p: any) => [p.manager, p.message]);
    expect(messages).toEqual([
      [
        'vendor_manual_erase',
        expect.stringMatching(
          /^clean step erase_devices of hardware manager vendor_manual_erase \(.*vendor-manual-erase.*\) has priority 0 and replaces the one of generic_disk_erase \(priority 10\): automated cleaning will not erase disks with erase_devices unless the conductor overrides the priority \(\[deploy\]erase_devices_priority or \[conductor\]clean_step_priority_override deploy.erase_devices:<priority>\)$/,
        ),
      ],
      ['vendor_manual_erase', expect.stringContaining('erase_devices_metadata of hardware manager vendor_manual_erase')],
    ]);
    expect(messages[1][1]).toContain('generic_disk_erase (priority 99)');
    expect(messages[1][1]).toContain('[deploy]erase_devices_metadata_priority');
  });
});
