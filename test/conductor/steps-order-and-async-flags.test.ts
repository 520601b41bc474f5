/**
 * Step gathering and ordering (reference §2): highest priority first, ties broken by the
 * interface priority map (power 5, management 4, deploy 3, bios 2, raid 1), priority
 * overrides applied before priority-0 steps are dropped; the async flag helpers and nested
 * field helpers with 2023.1's driver_internal_info keys (§3.10, §4); nodePeriodic filters,
 * predicate, limit and Stop.
 */
import { describe, expect, it } from 'vitest';
import {
  BIOSInterface,
  cleanStep,
  Conductor,
  deployUtils,
  getNodeNestedField,
  InterfaceRegistry,
  ManagementInterface,
  nodePeriodic,
  PeriodicStop,
  popNodeNestedField,
  PowerInterface,
  setNodeNestedField,
  SqliteNodeStore,
  states,
  type Task,
  TaskManager,
} from '../../src/conductor/index.js';
import { getCleaningSteps, sortSteps, CLEANING_INTERFACE_PRIORITY } from '../../src/conductor/steps.js';
import { FAST_CONF } from './helpers.js';

class StepPower extends PowerInterface {
  getPowerState() {
    return states.POWER_ON;
  }
  setPowerState() {}
  reboot() {}
  @cleanStep({ priority: 10 })
  powerTie() {}
  @cleanStep({ priority: -5 })
  negative() {}
}

class StepManagement extends ManagementInterface {
  getSupportedBootDevices() {
    return ['disk'];
  }
  setBootDevice() {}
  @cleanStep({ priority: 10 })
  managementTie() {}
  @cleanStep({ priority: 50 })
  highest() {}
  @cleanStep({ priority: 0 })
  manualOnly() {}
}

class StepBios extends BIOSInterface {
  @cleanStep({ priority: 10 })
  biosTie() {}
  @cleanStep({ priority: 30 })
  overridden() {}
  applyConfiguration() {}
  factoryReset() {}
  cacheBiosSettings() {}
}

async function taskWith(confOverrides: Record<string, number> = {}) {
  const interfaces = new InterfaceRegistry();
  interfaces.register('power', 'steps', StepPower);
  interfaces.register('management', 'steps', StepManagement);
  interfaces.register('bios', 'steps', StepBios);
  const store = new SqliteNodeStore(':memory:');
  const conductor = new Conductor({
    store,
    interfaces,
    conf: { ...FAST_CONF, conductor: { cleanStepPriorityOverride: confOverrides } },
  });
  const node = conductor.createNode({
    interfaces: { power: 'steps', management: 'steps', bios: 'steps', deploy: 'custom-agent' },
  });
  return { task: await TaskManager.acquire(conductor, node.uuid), store, conductor };
}

describe('ordering', () => {
  it('sorts by priority, then by interface priority; priority 0 is dropped for automated cleaning, negatives stay', async () => {
    const { task, store } = await taskWith();
    const enabled = await getCleaningSteps(task, { enabled: true });
    expect(enabled.map((s) => `${s.interface}.${s.step} ${s.priority}`)).toEqual([
      'management.highest 50',
      'bios.overridden 30',
      'power.power_tie 10',
      'management.management_tie 10',
      'bios.bios_tie 10',
      'power.negative -5',
    ]);
    const all = await getCleaningSteps(task, { enabled: false, sort: false });
    expect(all.map((s) => s.step)).toContain('manual_only');
    task.release();
    store.close();
  });

  it('applies [conductor]clean_step_priority_override before filtering: "0" disables, a number re-orders', async () => {
    const { task, store } = await taskWith({ 'bios.overridden': 0, 'management.manual_only': 99 });
    const enabled = await getCleaningSteps(task, { enabled: true });
    expect(enabled.map((s) => s.step).slice(0, 2)).toEqual(['manual_only', 'highest']);
    expect(enabled.map((s) => s.step)).not.toContain('overridden');
    task.release();
    store.close();
  });

  it('rejects a step of an interface outside the map, as Ironic’s sort key does', () => {
    expect(() => sortSteps([{ step: 'x', interface: 'vendor', priority: 1 }], CLEANING_INTERFACE_PRIORITY)).toThrow(
      "KeyError: 'vendor'",
    );
  });
});

describe('async step helpers (2023.1 keys)', () => {
  it('set_async_step_flags writes the cleaning keys while cleaning, deploy keys otherwise; reboot drops the token', async () => {
    const { task, store } = await taskWith();
    const node = task.node;
    node.cleanStep = { step: 'x', interface: 'management', priority: 0 };
    node.driverInternalInfo.agent_secret_token = 't';
    deployUtils.setAsyncStepFlags(node, { reboot: true, skipCurrentStep: false, polling: true });
    expect(store.getNode(node.uuid).driverInternalInfo).toEqual({
      cleaning_reboot: true,
      skip_current_clean_step: false,
      cleaning_polling: true,
    });
    expect(deployUtils.getAsyncStepReturnState(node)).toBe(states.CLEANWAIT);

    node.cleanStep = null;
    node.deployStep = { step: 'y', interface: 'deploy', priority: 80 };
    node.driverInternalInfo = { agent_secret_token: 't', agent_secret_token_pregenerated: true };
    deployUtils.setAsyncStepFlags(node, { reboot: true, skipCurrentStep: true });
    expect(store.getNode(node.uuid).driverInternalInfo).toEqual({
      agent_secret_token: 't',
      agent_secret_token_pregenerated: true,
      deployment_reboot: true,
      skip_current_deploy_step: true,
    });
    expect(deployUtils.getAsyncStepReturnState(node)).toBe(states.DEPLOYWAIT);
    task.release();
    store.close();
  });

  it('reboot_to_finish_step reboots through the power interface, wiping the agent’s URL and token', async () => {
    const { task, store } = await taskWith();
    task.node.cleanStep = { step: 'x', interface: 'management', priority: 0 };
    task.node.driverInternalInfo = { agent_url: 'http://a', agent_secret_token: 't', agent_cached_clean_steps: {} };
    expect(await deployUtils.rebootToFinishStep(task)).toBe(states.CLEANWAIT);
    const dii = store.getNode(task.node.uuid).driverInternalInfo;
    expect(dii).not.toHaveProperty('agent_url');
    expect(dii).not.toHaveProperty('agent_secret_token');
    expect(dii).not.toHaveProperty('agent_cached_clean_steps');
    expect(dii.last_power_state_change).toBeTruthy();
    task.release();
    store.close();
  });

  it('set/get/pop nested fields', async () => {
    const { task, store } = await taskWith();
    setNodeNestedField(task.node, 'driver_internal_info', ['my', 'flag'], 1);
    expect(getNodeNestedField(task.node, 'driver_internal_info', ['my', 'flag'])).toBe(1);
    expect(popNodeNestedField(task.node, 'driver_internal_info', ['my', 'flag'])).toBe(1);
    expect(popNodeNestedField(task.node, 'driver_internal_info', 'absent', 'default')).toBe('default');
    expect(task.node.driverInternalInfo).toEqual({ my: {} });
    task.release();
    store.close();
  });
});

describe('manual cleaning without a ramdisk (disable_ramdisk)', () => {
  class OobManagement extends ManagementInterface {
    calls: string[] = [];
    getSupportedBootDevices() {
      return ['disk'];
    }
    setBootDevice() {}
    @cleanStep({ priority: 0, requiresRamdisk: false })
    resetBmc() {
      this.calls.push('reset_bmc');
    }
    @cleanStep({ priority: 0 })
    needsAgent() {}
  }

  async function conductorWith() {
    const interfaces = new InterfaceRegistry();
    interfaces.register('management', 'oob', OobManagement);
    const store = new SqliteNodeStore(':memory:');
    const conductor = new Conductor({ store, interfaces, conf: FAST_CONF });
    const node = conductor.createNode({ interfaces: { management: 'oob', deploy: 'custom-agent' } });
    await conductor.provision(node.uuid, 'manage');
    return { conductor, store, uuid: node.uuid, mgmt: interfaces.instance('management', 'oob') as OobManagement };
  }

  it('runs out-of-band steps that need no ramdisk without booting one', async () => {
    const { conductor, store, uuid, mgmt } = await conductorWith();
    await conductor.provision(uuid, 'clean', {
      cleanSteps: [{ interface: 'management', step: 'reset_bmc' }],
      disableRamdisk: true,
    });
    await conductor.idle();
    const node = store.getNode(uuid);
    expect(node.provisionState).toBe(states.MANAGEABLE);
    expect(node.lastError).toBeNull();
    expect(mgmt.calls).toEqual(['reset_bmc']);
    // No ramdisk was prepared: the node was never rebooted.
    expect(node.driverInternalInfo).not.toHaveProperty('last_power_state_change');
    store.close();
  });

  it('refuses a step that requires the ramdisk, with Ironic 2023.1’s message', async () => {
    const { conductor, store, uuid } = await conductorWith();
    await conductor.provision(uuid, 'clean', {
      cleanSteps: [{ interface: 'management', step: 'needs_agent' }],
      disableRamdisk: true,
    });
    await conductor.idle();
    const node = store.getNode(uuid);
    expect(node.provisionState).toBe(states.CLEANFAIL);
    expect(node.lastError).toBe(
      `Cannot clean node ${uuid}: clean step {'interface': 'management', 'step': 'needs_agent'} requires booting a ramdisk`,
    );
    store.close();
  });
});

describe('nodePeriodic as a plain function', () => {
  it('runs over filtered nodes that pass the predicate, honours limit and Stop', async () => {
    const store = new SqliteNodeStore(':memory:');
    const conductor = new Conductor({ store, conf: FAST_CONF });
    const made = ['a', 'b', 'c', 'd'].map((name) => conductor.createNode({ name }));
    for (const n of made) {
      const node = store.getNode(n.uuid);
      node.driverInternalInfo.watch = n.name !== 'd';
      store.saveNode(node);
    }
    const seen: string[] = [];
    conductor.addPeriodic(
      nodePeriodic({
        purpose: 'test',
        spacing: 0,
        filters: { provisionState: states.ENROLL },
        predicateExtraFields: ['driverInternalInfo', 'name'],
        predicate: (n) => n.driverInternalInfo?.watch,
        limit: 2,
      })(async (task: Task) => {
        seen.push(task.node.name!);
      }),
    );
    await conductor.runPeriodicsOnce();
    expect(seen.sort()).toHaveLength(2);
    expect(seen.every((n) => n !== 'd')).toBe(true);

    const stopped: string[] = [];
    conductor.addPeriodic(
      nodePeriodic({ purpose: 'stop early', spacing: 0 })(async (task: Task) => {
        stopped.push(task.node.name!);
        throw new PeriodicStop();
      }),
    );
    await conductor.runPeriodicsOnce();
    expect(stopped).toHaveLength(1);
    // Locks taken by the periodics were released.
    expect(store.getNodeinfoList({ filters: { reserved: true } })).toEqual([]);
    store.close();
  });
});
