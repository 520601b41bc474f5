/**
 * An agent that is busy (409) when cleaning needs its steps. Ironic logs "will refresh steps on
 * the next heartbeat" and starts cleaning anyway, with no in-band step known: automated
 * cleaning then runs none of the agent's steps (no erase) and the node becomes available. We
 * wait in CLEANWAIT for the agent's next heartbeat and run its steps (a deliberate difference).
 * Fast track makes this reachable: the agent of the previous run is still up and may be busy.
 */
import { describe, expect } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { AgentTestClient } from '../helpers/agent.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitFor, waitForState } from './helpers.js';

describe('automated cleaning with a busy fast-track agent', () => {
  it('waits for the agent and runs its steps instead of ending with none', async ({ lab }) => {
    const { conductor } = await lab.start({ conf: { deploy: { fastTrack: true, defaultBootMode: 'bios' } } });
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    const agent = await lab.agent();
    const first = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.CLEANFAIL]);
    expect(first.lastError).toBeNull();
    await conductor.idle();
    const token = conductor.store.getNode(node.uuid).driverInternalInfo.agent_secret_token as string;
    expect(token).toBeTruthy();
    const executed = () =>
      (JSON.parse(agent.runner.listBody().toString()).commands as Array<{ command_name: string; command_result: any }>)
        .filter((c) => c.command_name === 'execute_clean_step')
        .map((c) => c.command_result?.clean_step?.step ?? 'running');
    expect(executed()).toEqual(['fixture_metadata', 'fixture_quick']);

    // The agent is still working on something when the next cleaning starts.
    const busy = await new AgentTestClient(agent.url, token).post('clean.execute_clean_step', {
      step: { step: 'fixture_slow', interface: 'deploy', priority: 0, args: { seconds: 1.5 } },
      node: {},
      ports: [],
    });
    expect(busy.status).toBe(200);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await conductor.idle();
    expect(conductor.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);

    const second = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.CLEANFAIL]);
    expect(second.lastError).toBeNull();
    await waitFor('the agent to be idle', () => !executed().includes('running'));
    expect(executed()).toEqual(['fixture_metadata', 'fixture_quick', 'fixture_slow', 'fixture_metadata', 'fixture_quick']);
  });
});
