/**
 * Undeploy (`deleted`) as Ironic's `_do_node_tear_down`: the deploy's leftovers go from
 * `instance_info` and `driver_internal_info` before cleaning starts, and a tear-down that fails
 * (here the BMC refuses the power-off) ends in ERROR with "Failed to tear down: …" instead of
 * leaving the node in "deleting".
 */
import { describe, expect } from 'vitest';
import { FakePower } from '../../src/conductor/drivers/fake.js';
import { InterfaceRegistry } from '../../src/conductor/drivers/registry.js';
import { PowerStateFailure } from '../../src/conductor/errors.js';
import { type PowerState, states } from '../../src/conductor/states.js';
import type { Task } from '../../src/conductor/task.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitForState } from './helpers.js';

let bmcRefusesPowerOff = false;

/** Fake power whose BMC can stop answering power-off requests. */
class FlakyBmcPower extends FakePower {
  override setPowerState(task: Task, state: PowerState): void {
    if (bmcRefusesPowerOff && state === states.POWER_OFF) {
      throw new PowerStateFailure(`Failed to change power state to '${state}': the BMC did not answer`);
    }
    super.setPowerState(task, state);
  }
}

async function nodeWaitingForItsDeploy(lab: ConductorLab) {
  const interfaces = new InterfaceRegistry();
  interfaces.register('power', 'flaky-bmc', FlakyBmcPower);
  const { conductor } = await lab.start({ interfaces });
  const node = await enrollHostNode(conductor, {
    automatedClean: false,
    interfaces: { deploy: 'direct', power: 'flaky-bmc' },
    instanceInfo: { image_source: 'http://images.example/disk.img', image_checksum: 'abc', deploy_boot_mode: 'bios' },
  });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  await waitForState(conductor, node.uuid, states.AVAILABLE);
  await conductor.provision(node.uuid, 'active');
  const waiting = await waitForState(conductor, node.uuid, states.DEPLOYWAIT);
  await conductor.idle();
  expect(waiting.driverInternalInfo.deploy_steps).toEqual(expect.arrayContaining([expect.objectContaining({ step: 'deploy' })]));
  return { conductor, node };
}

describe('undeploy', () => {
  it('moves to ERROR with Ironic’s last_error when the tear-down fails, and drops the instance', async ({ lab }) => {
    bmcRefusesPowerOff = false;
    const { conductor, node } = await nodeWaitingForItsDeploy(lab);
    bmcRefusesPowerOff = true;
    lab.defer(() => (bmcRefusesPowerOff = false));
    await conductor.provision(node.uuid, 'deleted');
    await conductor.idle();
    const failed = conductor.store.getNode(node.uuid);
    expect(failed.provisionState).toBe(states.ERROR);
    expect(failed.lastError).toBe("Failed to tear down: Failed to change power state to 'power off': the BMC did not answer");
    expect(failed.instanceInfo).toEqual({});
    expect(failed.driverInternalInfo.deploy_steps).toBeNull();

    // From ERROR the operator can undeploy again once the BMC answers.
    bmcRefusesPowerOff = false;
    await conductor.provision(node.uuid, 'deleted');
    const available = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.ERROR, states.CLEANFAIL]);
    expect(available.provisionState).toBe(states.AVAILABLE);
    expect(available.powerState).toBe(states.POWER_OFF);
  });

  it('wipes the deploy’s driver_internal_info before cleaning', async ({ lab }) => {
    bmcRefusesPowerOff = false;
    const { conductor, node } = await nodeWaitingForItsDeploy(lab);
    await conductor.provision(node.uuid, 'deleted');
    const available = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.ERROR]);
    expect(available.provisionState).toBe(states.AVAILABLE);
    expect(available.lastError).toBeNull();
    expect(available.instanceInfo).toEqual({});
    expect(available.driverInternalInfo.deploy_steps).toBeNull();
    expect(available.driverInternalInfo).not.toHaveProperty('deploy_step_index');
    expect(available.driverInternalInfo).not.toHaveProperty('agent_secret_token');
  });
});
