/**
 * The "Implementing RAID" and "Implementing BIOS settings" examples of Ironic's "Developing
 * deploy and clean steps" guide (../shared/seed/developing-deploy-and-clean-steps.txt), written
 * nearly line for line against `src/conductor` and run in a manual clean by a real conductor
 * and agent. The guide's other examples: guide-deploy-step-examples-run.test.ts.
 */
import { describe, expect } from 'vitest';
import {
  BIOSInterface,
  cacheBiosSettings,
  cleanStep,
  deployStep,
  InterfaceRegistry,
  RAID_APPLY_CONFIGURATION_ARGSINFO,
  RAIDInterface,
  states,
  type Task,
} from '../../src/conductor/index.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitForState } from './helpers.js';

// ---------------------------------------------------------------- "Implementing RAID"

const raidCalls: Array<[string, unknown]> = [];
class MyRAID extends RAIDInterface {
  @cleanStep({
    priority: 0,
    abortable: false,
    argsinfo: {
      create_root_volume: {
        description: 'This specifies whether to create the root volume. Defaults to `True`.',
        required: false,
      },
      create_nonroot_volumes: {
        description: 'This specifies whether to create the non-root volumes. Defaults to `True`.',
        required: false,
      },
      delete_existing: {
        description:
          'Setting this to `True` indicates to delete existing RAID configuration prior to creating the new configuration. Default value is `False`.',
        required: false,
      },
    },
  })
  createConfiguration(task: Task, { create_root_volume = true, create_nonroot_volumes = true, delete_existing = false } = {}) {
    void task;
    raidCalls.push(['create_configuration', { create_root_volume, create_nonroot_volumes, delete_existing }]);
  }

  @cleanStep({ priority: 0 })
  @deployStep({ priority: 0 })
  deleteConfiguration(task: Task) {
    void task;
    raidCalls.push(['delete_configuration', null]);
  }

  @deployStep({ priority: 0, argsinfo: RAID_APPLY_CONFIGURATION_ARGSINFO })
  override async applyConfiguration(
    task: Task,
    {
      raid_config,
      create_root_volume = true,
      create_nonroot_volumes = false,
      delete_existing = false,
    }: {
      raid_config: Record<string, unknown>;
      create_root_volume?: boolean;
      create_nonroot_volumes?: boolean;
      delete_existing?: boolean;
    },
  ) {
    void task;
    raidCalls.push(['apply_configuration', { raid_config, create_root_volume, create_nonroot_volumes, delete_existing }]);
    return undefined;
  }
}

// ---------------------------------------------------------------- "Implementing BIOS settings"

const APPLY_CONFIGURATION_ARGSINFO = {
  settings: {
    description: 'A list of BIOS settings to be applied',
    required: true,
  },
};

const biosCalls: string[] = [];
class MyBIOS extends BIOSInterface {
  @cleanStep({ priority: 0 })
  @deployStep({ priority: 0 })
  @cacheBiosSettings
  async factoryReset(task: Task) {
    void task;
    biosCalls.push('factory_reset');
  }

  @cleanStep({ priority: 0, argsinfo: APPLY_CONFIGURATION_ARGSINFO })
  @deployStep({ priority: 0, argsinfo: APPLY_CONFIGURATION_ARGSINFO })
  @cacheBiosSettings
  async applyConfiguration(task: Task, { settings }: { settings: Array<{ name: string; value: unknown }> }) {
    void task;
    biosCalls.push(`apply_configuration ${settings.map((s) => `${s.name}=${String(s.value)}`).join(',')}`);
  }

  cacheBiosSettings(task: Task) {
    void task;
    biosCalls.push('cache_bios_settings');
  }
}

function registry(): InterfaceRegistry {
  const interfaces = new InterfaceRegistry();
  interfaces.register('raid', 'seed-raid', MyRAID);
  interfaces.register('bios', 'seed-bios', MyBIOS);
  return interfaces;
}

describe('Implementing RAID and BIOS settings', () => {
  it('collects the conventional signatures as steps', () => {
    const raid = new MyRAID();
    expect(raid.cleanSteps.map((s) => [s.step, s.priority, s.abortable])).toEqual([
      ['create_configuration', 0, false],
      ['delete_configuration', 0, false],
    ]);
    expect(raid.deploySteps).toEqual([
      { step: 'apply_configuration', priority: 0, argsinfo: RAID_APPLY_CONFIGURATION_ARGSINFO, interface: 'raid' },
      { step: 'delete_configuration', priority: 0, argsinfo: null, interface: 'raid' },
    ]);
    const bios = new MyBIOS();
    expect(bios.cleanSteps.map((s) => s.step)).toEqual(['apply_configuration', 'factory_reset']);
    expect(bios.deploySteps.map((s) => [s.step, s.argsinfo])).toEqual([
      ['apply_configuration', APPLY_CONFIGURATION_ARGSINFO],
      ['factory_reset', null],
    ]);
  });

  it('runs RAID and BIOS clean steps in a manual clean; cache_bios_settings follows each BIOS step', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    raidCalls.length = 0;
    biosCalls.length = 0;
    const node = await enrollHostNode(running.conductor, {
      interfaces: { deploy: 'custom-agent', raid: 'seed-raid', bios: 'seed-bios' },
    });
    await running.conductor.provision(node.uuid, 'manage');
    await running.conductor.provision(node.uuid, 'clean', {
      cleanSteps: [
        { interface: 'raid', step: 'delete_configuration' },
        { interface: 'raid', step: 'create_configuration', args: { delete_existing: true } },
        { interface: 'bios', step: 'apply_configuration', args: { settings: [{ name: 'LogicalProc', value: 'Enabled' }] } },
        { interface: 'bios', step: 'factory_reset' },
      ],
    });
    await lab.agent();
    const done = await waitForState(running.conductor, node.uuid, [states.MANAGEABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    expect(raidCalls).toEqual([
      ['delete_configuration', null],
      ['create_configuration', { create_root_volume: true, create_nonroot_volumes: true, delete_existing: true }],
    ]);
    // cleaning caches BIOS settings once before it starts, then after each BIOS step
    expect(biosCalls).toEqual([
      'cache_bios_settings',
      'apply_configuration LogicalProc=Enabled',
      'cache_bios_settings',
      'factory_reset',
      'cache_bios_settings',
    ]);
  });

  it('apply_configuration validates the RAID config with Ironic’s message', async () => {
    const raid = new MyRAID();
    expect(() =>
      raid.validateRaidConfig({} as Task, {
        logical_disks: [
          { raid_level: '1', size_gb: 10, is_root_volume: true },
          { raid_level: '0', size_gb: 'MAX', is_root_volume: true },
        ],
      }),
    ).toThrow('Raid config cannot have more than one root volume. 2 root volumes were specified');
    expect(() => raid.validateRaidConfig({} as Task, { logical_disks: [] })).toThrow(/^RAID config validation error: /);
  });
});
