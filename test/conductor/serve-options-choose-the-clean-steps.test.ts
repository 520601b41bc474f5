/**
 * `conductor serve` options that shape automated cleaning, as Ironic's configuration does:
 * `--erase-devices-priority` / `--erase-devices-metadata-priority` ([deploy]erase_devices_*),
 * `--clean-step-priority-override IFACE.STEP:N` ([conductor]clean_step_priority_override) and
 * `--no-automated-clean`, and the disk-erase options Ironic's `agent_add_clean_params` passes to
 * the agent ([deploy]shred_random_overwrite_iterations and the rest). The options go through what `serve` runs (a real conductor service
 * on SQLite and HTTP) with a real agent offering steps named as IPA's erase steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { UsageError } from '../../src/conductor/cli/cli-args.js';
import { serveOptions } from '../../src/conductor/cli/serve-options.js';
import { startConductorService } from '../../src/conductor/cli/serve.js';
import { states } from '../../src/conductor/states.js';
import type { RunningAgent } from '../../src/agent/agent.js';
import { conductorTest as it, type ConductorLab } from './conductor-lab.js';
import { hostMacs, startLinkedAgent, waitForState } from './helpers.js';

const ERASE_NAMES = join(import.meta.dirname, '..', 'fixtures', 'conductor-hardware-managers-erase-names');

/**
 * What `conductor serve` with these options runs (a real service on SQLite and HTTP): a node
 * put through automated cleaning by a real agent with the erase-names fixture manager.
 * Resolves with the agent once the node is available; fails on a clean failure.
 */
async function cleanWith(lab: ConductorLab, options: string[]): Promise<RunningAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'conductor-serve-options-'));
  lab.defer(() => rmSync(dir, { recursive: true, force: true }));
  const common = ['--listen', '127.0.0.1:0', '--db', join(dir, 'nodes.sqlite'), '--log-level', 'silent'];
  const service = await startConductorService(serveOptions([...common, '--heartbeat-timeout', '1', ...options]));
  lab.defer(() => service.close());
  const { conductor } = service;
  const node = conductor.createNode({ interfaces: { deploy: 'custom-agent' }, ports: await hostMacs() });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  const agent = await startLinkedAgent(service.url, { hardwareManagerPaths: [ERASE_NAMES] });
  lab.defer(() => agent.close());
  const done = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.CLEANFAIL]);
  expect(done.lastError).toBeNull();
  return agent;
}

describe('conductor serve cleaning options', () => {
  it('keep erase_devices out of automated cleaning and enable, reorder or disable steps', async ({ lab }) => {
    const agent = await cleanWith(lab, [
      '--erase-devices-priority',
      '0',
      '--erase-devices-metadata-priority',
      '5',
      '--clean-step-priority-override',
      'deploy.fixture_burnin_quick:50',
    ]);
    const ran = (JSON.parse(agent.runner.listBody().toString()).commands as Array<{ command_name: string; command_result: any }>)
      .filter((c) => c.command_name === 'execute_clean_step')
      .map((c) => c.command_result?.clean_step?.step);
    // The override enables the priority-0 step ahead of the re-prioritised metadata erase;
    // erase_devices (the agent's 10) is disabled.
    expect(ran).toEqual(['fixture_burnin_quick', 'erase_devices_metadata']);
  });

  it('give the agent’s disk erase the passes, zeros, secure-erase fallback and concurrency asked for', async ({ lab }) => {
    const agent = await cleanWith(lab, [
      '--erase-devices-metadata-priority',
      '0',
      '--shred-random-overwrite-iterations',
      '3',
      '--no-shred-final-overwrite-with-zeros',
      '--continue-if-disk-secure-erase-fails',
      '--no-ata-secure-erase',
      '--disk-erasure-concurrency',
      '4',
      '--erase-skip-read-only',
    ]);
    const erase = (JSON.parse(agent.runner.listBody().toString()).commands as Array<{ command_result: any }>).find(
      (c) => c.command_result?.clean_step?.step === 'erase_devices',
    );
    expect(erase?.command_result.clean_result.settings).toEqual({
      agent_erase_devices_iterations: 3,
      agent_erase_devices_zeroize: false,
      agent_continue_if_secure_erase_failed: true,
      agent_continue_if_ata_erase_failed: true,
      agent_enable_ata_secure_erase: false,
      agent_enable_nvme_secure_erase: true,
      disk_erasure_concurrency: 4,
      agent_erase_skip_read_only: true,
    });
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
    expect(serveOptions([]).conf.deploy).toMatchObject({
      shredRandomOverwriteIterations: 1,
      shredFinalOverwriteWithZeros: true,
      continueIfDiskSecureEraseFails: false,
      enableAtaSecureErase: true,
      enableNvmeSecureErase: true,
      diskErasureConcurrency: 1,
      eraseSkipReadOnly: false,
    });
    expect(() => serveOptions(['--disk-erasure-concurrency', '0'])).toThrow(
      '--disk-erasure-concurrency must be at least 1, got 0',
    );
    expect(() => serveOptions(['--shred-random-overwrite-iterations=-1'])).toThrow(
      '--shred-random-overwrite-iterations must be at least 0, got -1',
    );
    expect(() => serveOptions(['--clean-step-priority-override', 'erase_devices=0'])).toThrow(
      '--clean-step-priority-override expects IFACE.STEP:PRIORITY, got "erase_devices=0"',
    );
  });
});
