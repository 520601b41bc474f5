/**
 * With fast track on, tear_down_agent asks the agent to power the machine off and sees it
 * off: the agent's URL, token and TLS certificate are gone with it. A rebuild then boots a
 * new ramdisk (DEPLOYWAIT) instead of sending the deploy to the old, dead agent's URL, where
 * a freshly booted ramdisk answers with another self-signed certificate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { FakePower } from '../../src/conductor/drivers/fake.js';
import { InterfaceRegistry } from '../../src/conductor/drivers/registry.js';
import { type PowerState, states } from '../../src/conductor/states.js';
import type { Task } from '../../src/conductor/task.js';
import { enrollHostNode, FAST_CONF, type RunningConductor, startConductor, startLinkedAgent, waitForState } from './helpers.js';

let running: RunningConductor | undefined;
const agents: RunningAgent[] = [];
let agentPoweredOff = false;
const requested: PowerState[] = [];

/** A machine that really goes off when its agent powers it off (fake power does not). */
class SelfPoweringOff extends FakePower {
  override getPowerState(task: Task): PowerState {
    if (agents.some((a) => a.power.history.some((r) => r.action === 'power_off'))) agentPoweredOff = true;
    return agentPoweredOff ? states.POWER_OFF : super.getPowerState(task);
  }
  override setPowerState(task: Task, state: PowerState): void {
    agentPoweredOff = false;
    requested.push(state);
    agents.splice(0).forEach((a) => void a.close());
    super.setPowerState(task, state);
  }
}

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await running?.close();
  running = undefined;
  agentPoweredOff = false;
  requested.length = 0;
});

describe('fast track after the agent powered the machine off', () => {
  it('forgets the agent’s URL, token and certificate, so a rebuild waits for a new ramdisk', async () => {
    const interfaces = new InterfaceRegistry();
    interfaces.register('power', 'self-powering-off', SelfPoweringOff);
    running = await startConductor({
      interfaces,
      conf: {
        deploy: { fastTrack: true, defaultBootMode: 'bios' },
        // Room for the agent's own power-off to be seen (no forced power action).
        agent: { ...FAST_CONF.agent, postDeployGetPowerStateRetries: 100, postDeployGetPowerStateRetryInterval: 0.05 },
      },
    });
    const { conductor } = running;
    const node = await enrollHostNode(conductor, {
      automatedClean: false,
      interfaces: { deploy: 'custom-agent', power: 'self-powering-off' },
    });
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.AVAILABLE);
    await conductor.provision(node.uuid, 'active');
    await waitForState(conductor, node.uuid, states.DEPLOYWAIT);
    agents.push(await startLinkedAgent(running.url, { enableAutoTls: true }));
    const active = await waitForState(conductor, node.uuid, [states.ACTIVE, states.DEPLOYFAIL]);
    expect(active.lastError).toBeNull();
    expect(active.provisionState).toBe(states.ACTIVE);
    // prepare's power-off, then boot_instance's power-on: no forced power-off in between.
    expect(requested).toEqual([states.POWER_OFF, states.POWER_ON]);
    expect(active.driverInternalInfo).not.toHaveProperty('agent_url');
    expect(active.driverInternalInfo).not.toHaveProperty('agent_secret_token');
    expect(active.driverInternalInfo).not.toHaveProperty('agent_verify_ca');

    // The instance runs (power on); a rebuild must boot a ramdisk, not reuse the dead agent.
    await conductor.provision(node.uuid, 'rebuild');
    const waiting = await waitForState(conductor, node.uuid, [states.DEPLOYWAIT, states.DEPLOYFAIL, states.ACTIVE]);
    expect(waiting.lastError).toBeNull();
    expect(waiting.provisionState).toBe(states.DEPLOYWAIT);
    agents.push(await startLinkedAgent(running.url, { enableAutoTls: true }));
    const rebuilt = await waitForState(conductor, node.uuid, [states.ACTIVE, states.DEPLOYFAIL]);
    expect(rebuilt.lastError).toBeNull();
    expect(rebuilt.provisionState).toBe(states.ACTIVE);
  });
});
