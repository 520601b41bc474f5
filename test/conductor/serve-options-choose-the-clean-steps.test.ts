/**
 * `conductor serve` options that shape automated cleaning, as Ironic's configuration does:
 * `--erase-devices-priority` / `--erase-devices-metadata-priority` ([deploy]erase_devices_*),
 * `--clean-step-priority-override IFACE.STEP:N` ([conductor]clean_step_priority_override) and
 * `--no-automated-clean`. The options go through what `serve` runs (a real conductor service
 * on SQLite and HTTP) with a real agent offering steps named as IPA's erase steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { serveOptions, UsageError } from '../../src/conductor/cli/conductor-command.js';
import { startConductorService } from '../../src/conductor/cli/serve.js';
import { states } from '../../src/conductor/states.js';
import { conductorTest as it } from './conductor-lab.js';
import { hostMacs, startLinkedAgent, waitForState } from './helpers.js';

const ERASE_NAMES = join(import.meta.dirname, '..', 'fixtures', 'conductor-hardware-managers-erase-names');

describe('conductor serve cleaning options', () => {
  it('keep erase_devices out of automated cleaning and enable, reorder or disable steps', async ({ lab }) => {
    const dir = mkdtempSync(join(tmpdir(), 'conductor-serve-options-'));
    lab.defer(() => rmSync(dir, { recursive: true, force: true }));
    const service = await startConductorService(
      serveOptions([
        '--listen',
        '127.0.0.1:0',
        '--db',
        join(dir, 'nodes.sqlite'),
        '--log-level',
        'silent',
        '--heartbeat-timeout',
        '1',
        '--erase-devices-priority',
        '0',
        '--erase-devices-metadata-priority',
        '5',
        '--clean-step-priority-override',
        'deploy.fixture_burnin_quick:50',
      ]),
    );
    lab.defer(() => service.close());
    const { conductor } = service;
    const node = conductor.createNode({ interfaces: { deploy: 'custom-agent' }, ports: await hostMacs() });
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    const agent = await startLinkedAgent(service.url, { hardwareManagerPaths: [ERASE_NAMES] });
    lab.defer(() => agent.close());
    const done = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    const ran = (JSON.parse(agent.runner.listBody().toString()).commands as Array<{ command_name: string; command_result: any }>)
      .filter((c) => c.command_name === 'execute_clean_step')
      .map((c) => c.command_result?.clean_step?.step);
    // The override enables the priority-0 step ahead of the re-prioritised metadata erase;
    // erase_devices (the agent's 10) is disabled.
    expect(ran).toEqual(['fixture_burnin_quick', 'erase_devices_metadata']);
  });

  it('maps every option onto Ironic’s settings and refuses what Ironic would not parse', () => {
    expect(serveOptions(['--no-automated-clean']).conf).toMatchObject({
      conductor: { automatedClean: false, cleanStepPriorityOverride: {} },
      deploy: { eraseDevicesPriority: null, eraseDevicesMetadataPriority: null },
    });
    expect(
      serveOptions([
        '--clean-step-priority-override',
        'deploy.erase_devices:0',
        '--clean-step-priority-override',
        'raid.create_configuration:70',
      ]).conf.conductor,
    ).toEqual({
      automatedClean: true,
      cleanStepPriorityOverride: { 'deploy.erase_devices': 0, 'raid.create_configuration': 70 },
    });
    expect(() => serveOptions(['--erase-devices-priority', 'ten'])).toThrow(UsageError);
    expect(() => serveOptions(['--erase-devices-priority', 'ten'])).toThrow(
      '--erase-devices-priority expects an integer, got "ten"',
    );
    expect(() => serveOptions(['--clean-step-priority-override', 'erase_devices=0'])).toThrow(
      '--clean-step-priority-override expects IFACE.STEP:PRIORITY, got "erase_devices=0"',
    );
  });
});
