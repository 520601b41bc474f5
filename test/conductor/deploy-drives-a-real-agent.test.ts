/**
 * Deploying end to end against a real linked agent: the `custom-agent` step list with the
 * agent's in-band step merged at 70, driver_internal_info as `baremetal node show` prints
 * it, tear_down_agent powering the ramdisk off, ACTIVE; in-band steps outside 41–99 refused
 * with the reason; user deploy steps validated with Ironic's messages.
 */
import { describe, expect } from 'vitest';
import type { Conductor } from '../../src/conductor/conductor.js';
import { states } from '../../src/conductor/states.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, OUT_OF_RANGE_FIXTURES, waitFor, waitForState } from './helpers.js';

async function available(conductor: Conductor): Promise<string> {
  const node = await enrollHostNode(conductor, { automatedClean: false });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  await waitForState(conductor, node.uuid, states.AVAILABLE);
  return node.uuid;
}

describe('deploy with custom-agent', () => {
  it('runs deploy 100, the agent’s step at 70, prepare_instance_boot 60 … boot_instance 20, and ends ACTIVE', async ({ lab }) => {
    const { conductor } = await lab.start();
    const uuid = await available(conductor);
    await conductor.provision(uuid, 'active');
    await waitForState(conductor, uuid, states.DEPLOYWAIT);
    const agent = await lab.agent();
    // While the in-band step runs, driver_internal_info looks as the seed document shows it.
    const during = await waitFor('the in-band step', () => {
      const n = conductor.store.getNode(uuid);
      return n.deployStep && (n.deployStep as { step?: string }).step === 'fixture_inband_70' ? n : undefined;
    });
    const steps = during.driverInternalInfo.deploy_steps as Array<{ step: string; priority: number; interface: string }>;
    expect(steps.map((s) => `${s.interface}.${s.step} ${s.priority}`)).toEqual([
      'deploy.deploy 100',
      'deploy.fixture_inband_70 70',
      'deploy.prepare_instance_boot 60',
      'deploy.tear_down_agent 40',
      'deploy.switch_to_tenant_network 30',
      'deploy.boot_instance 20',
    ]);
    expect(steps[0]).toEqual({ step: 'deploy', priority: 100, argsinfo: null, interface: 'deploy' });
    expect(during.driverInternalInfo.deploy_step_index).toBe(1);
    expect(during.driverInternalInfo.steps_validated).toBe(true);

    const done = await waitForState(conductor, uuid, [states.ACTIVE, states.DEPLOYFAIL]);
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.ACTIVE);
    expect(done.powerState).toBe(states.POWER_ON);
    expect(done.deployStep).toBeNull();
    expect(done.driverInternalInfo.deploy_steps).toBeNull();
    // tear_down_agent asked the agent to power off; a simulated power-off stops its service.
    expect(await agent.stopped).toMatch(/power_off/);
    expect(agent.power.history.map((r) => r.action)).toContain('power_off');
    expect(agent.serving).toBe(false);
  });

  it('refuses an in-band deploy step outside 41–99 and says why', async ({ lab }) => {
    const { conductor } = await lab.start();
    const uuid = await available(conductor);
    await conductor.provision(uuid, 'active');
    await lab.agent({ hardwareManagerPaths: [OUT_OF_RANGE_FIXTURES] });
    const failed = await waitForState(conductor, uuid, states.DEPLOYFAIL);
    expect(failed.lastError).toMatch(
      /^Failed to load in-band deploy steps: agent get_deploy_steps for node \S+ returned in-band deploy step deploy.inband_30 with priority 30: in-band deploy steps must have priorities between 41 and 99 \(or 0 to run only on request\), because it would run after deploy.tear_down_agent \(40\) has powered the agent off/,
    );
  });

  it('runs a user-requested in-band step; its FAILED result ends in DEPLOYFAIL with Ironic’s last_error', async ({ lab }) => {
    const { conductor } = await lab.start();
    const uuid = await available(conductor);
    // Unknown to the conductor until the agent reports its steps: accepted, validated later.
    await conductor.provision(uuid, 'active', {
      deploySteps: [{ interface: 'deploy', step: 'fixture_failing_deploy', args: {}, priority: 75 }],
    });
    await lab.agent();
    const failed = await waitForState(conductor, uuid, [states.DEPLOYFAIL, states.ACTIVE]);
    expect(failed.provisionState).toBe(states.DEPLOYFAIL);
    expect(failed.lastError).toMatch(
      new RegExp(
        `^Deploy step deploy.fixture_failing_deploy failed on node ${uuid}. .*the fixture deploy step failed on purpose`,
      ),
    );
    expect(failed.deployStep).toEqual({});
    expect(failed.driverInternalInfo.deploy_steps).toBeNull();
    // _step_failure_handler goes through deploying_error_handler, which (unlike
    // set_failed_state) leaves the power alone: the ramdisk stays up for inspection.
    expect(failed.powerState).toBe(states.POWER_ON);
  });

  it('validates user deploy steps at the API: the core step cannot be re-prioritised', async ({ lab }) => {
    const running = await lab.start();
    const uuid = await available(running.conductor);
    const error = await running.conductor
      .provision(uuid, 'active', { deploySteps: [{ interface: 'deploy', step: 'deploy', args: {}, priority: 150 }] })
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe(
      `Failed to validate deploy or power info for node ${uuid}: Validation of deploy steps from "deploy steps" argument failed.deploy step deploy on interface deploy is a core step and cannot be overridden by user steps. It may be disabled by setting the priority to 0`,
    );
    expect(running.conductor.store.getNode(uuid).provisionState).toBe(states.AVAILABLE);
  });

  it('fails a deploy whose agent never calls back once deploy_callback_timeout has passed', async ({ lab }) => {
    const running = await lab.start({ conf: { conductor: { deployCallbackTimeout: 1 } } });
    const uuid = await available(running.conductor);
    await running.conductor.provision(uuid, 'active');
    await waitForState(running.conductor, uuid, states.DEPLOYWAIT);
    await new Promise((r) => setTimeout(r, 1100));
    await running.conductor.runPeriodicsOnce();
    const failed = await waitForState(running.conductor, uuid, states.DEPLOYFAIL);
    expect(failed.lastError).toBe(`Timeout reached while waiting for callback for node ${uuid}`);
  });

  it('cannot abort a deploy (2023.1 has no abort from DEPLOYWAIT)', async ({ lab }) => {
    const running = await lab.start();
    const uuid = await available(running.conductor);
    await running.conductor.provision(uuid, 'active');
    await waitForState(running.conductor, uuid, states.DEPLOYWAIT);
    await expect(running.conductor.provision(uuid, 'abort')).rejects.toThrow(
      `The requested action "abort" can not be performed on node "${uuid}" while it is in state "wait call-back".`,
    );
  });

  it('needs an image and a checksum for the direct interface', async ({ lab }) => {
    const running = await lab.start();
    const node = await enrollHostNode(running.conductor, { automatedClean: false, interfaces: { deploy: 'direct' } });
    await running.conductor.provision(node.uuid, 'manage');
    await running.conductor.provision(node.uuid, 'provide');
    await waitForState(running.conductor, node.uuid, states.AVAILABLE);
    await expect(running.conductor.provision(node.uuid, 'active')).rejects.toThrow(
      `Failed to validate deploy or power info for node ${node.uuid}: Node ${node.uuid} is missing some fields: instance_info.image_source`,
    );
  });
});
