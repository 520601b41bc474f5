/**
 * Cleaning end to end: a real conductor (SQLite, HTTP on 127.0.0.1) and a real agent that
 * looks itself up and heartbeats. Automated order, manual order and validation, step failure
 * → CLEANFAIL + maintenance, abort of abortable and non-abortable steps, reboot_requested
 * (the agent looks up again and the conductor sees a fresh command list), callback timeout.
 */
import { describe, expect } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { states } from '../../src/conductor/states.js';
import { AgentTestClient } from '../helpers/agent.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitFor, waitForState } from './helpers.js';

/** The clean steps the agent executed, in order (read with the node's current token). */
async function executedSteps(agent: RunningAgent, token: string): Promise<string[]> {
  const { body } = await new AgentTestClient(agent.url, token).list();
  return (body.commands as Array<{ command_name: string; command_result: { clean_step?: { step: string } } | null }>)
    .filter((c) => c.command_name === 'execute_clean_step')
    .map((c) => c.command_result?.clean_step?.step ?? '?');
}

/** A fresh conductor with a manageable node on which manual cleaning with `cleanSteps` was requested. */
async function manualCleaning(
  lab: ConductorLab,
  cleanSteps: Array<{ interface: string; step: string; args?: Record<string, unknown> }>,
) {
  const { conductor } = await lab.start();
  const node = await enrollHostNode(conductor);
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'clean', { cleanSteps });
  return { conductor, node };
}

describe('automated cleaning', () => {
  it('boots the agent, runs enabled steps by priority, and ends AVAILABLE with the node powered off', async ({ lab }) => {
    const { conductor } = await lab.start();
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.CLEANWAIT);
    expect(conductor.store.getNode(node.uuid).powerState).toBe(states.POWER_ON);

    const agent = await lab.agent();
    let seenToken = '';
    await waitFor('the token', () => {
      seenToken ||= conductor.store.getNode(node.uuid).driverInternalInfo.agent_secret_token ?? '';
      return seenToken;
    });
    const done = await waitForState(conductor, node.uuid, [states.AVAILABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.AVAILABLE);
    expect(done.targetProvisionState).toBeNull();
    expect(done.powerState).toBe(states.POWER_OFF);
    expect(done.cleanStep).toBeNull();
    // Ironic's wipe: the list is set to None, index and token gone.
    expect(done.driverInternalInfo.clean_steps).toBeNull();
    expect(done.driverInternalInfo).not.toHaveProperty('clean_step_index');
    expect(done.driverInternalInfo).not.toHaveProperty('agent_secret_token');
    // priority 90 before 20; priority-0 steps never run automatically.
    expect(await executedSteps(agent, seenToken)).toEqual(['fixture_metadata', 'fixture_quick']);
  });

  it('goes straight to AVAILABLE when automated cleaning is disabled for the node', async ({ lab }) => {
    const running = await lab.start();
    const node = await enrollHostNode(running.conductor, { automatedClean: false });
    await running.conductor.provision(node.uuid, 'manage');
    await running.conductor.provision(node.uuid, 'provide');
    expect((await waitForState(running.conductor, node.uuid, states.AVAILABLE)).cleanStep).toBeNull();
  });
});

describe('manual cleaning', () => {
  it('runs the user’s steps in the user’s order, with abortable and priority taken from the agent', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [
      { interface: 'deploy', step: 'fixture_quick' },
      { interface: 'deploy', step: 'fixture_slow', args: { seconds: 0.2 } },
      { interface: 'deploy', step: 'fixture_metadata' },
    ]);
    expect(conductor.store.getNode(node.uuid).targetProvisionState).toBe(states.MANAGEABLE);
    await waitForState(conductor, node.uuid, states.CLEANWAIT);
    const agent = await lab.agent();
    let token = '';
    let stepsSeen: unknown;
    await waitFor('steps to be computed', () => {
      const n = conductor.store.getNode(node.uuid);
      token ||= n.driverInternalInfo.agent_secret_token ?? '';
      stepsSeen ??=
        n.driverInternalInfo.clean_steps?.length === 3 && typeof n.driverInternalInfo.clean_steps[0].abortable === 'boolean'
          ? n.driverInternalInfo.clean_steps
          : undefined;
      return stepsSeen;
    });
    expect(stepsSeen).toEqual([
      { interface: 'deploy', step: 'fixture_quick', abortable: true, priority: 20 },
      { interface: 'deploy', step: 'fixture_slow', args: { seconds: 0.2 }, abortable: true, priority: 0 },
      { interface: 'deploy', step: 'fixture_metadata', abortable: true, priority: 90 },
    ]);
    const done = await waitForState(conductor, node.uuid, [states.MANAGEABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.MANAGEABLE);
    expect(await executedSteps(agent, token)).toEqual(['fixture_quick', 'fixture_slow', 'fixture_metadata']);
  });

  it('talks HTTPS to an auto-TLS agent, verified against the certificate from its heartbeat', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [{ interface: 'deploy', step: 'fixture_quick' }]);
    await lab.agent({ enableAutoTls: true });
    let url = '';
    let ca = '';
    const done = await waitFor('cleaning to end', () => {
      const n = conductor.store.getNode(node.uuid);
      url ||= n.driverInternalInfo.agent_url ?? '';
      ca ||= n.driverInternalInfo.agent_verify_ca ?? '';
      return n.provisionState === states.MANAGEABLE || n.provisionState === states.CLEANFAIL ? n : undefined;
    });
    expect(done.lastError).toBeNull();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(ca).toMatch(/\.crt$/);
  });

  it('refuses a step without its required argument at the first heartbeat, with Ironic’s message and no maintenance', async ({
    lab,
  }) => {
    const { conductor, node } = await manualCleaning(lab, [{ interface: 'deploy', step: 'fixture_needs_size' }]);
    await lab.agent();
    const failed = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    expect(failed.lastError).toBe(
      "Node failed to start the first cleaning step: clean step {'interface': 'deploy', 'step': 'fixture_needs_size'} is missing these required arguments: size (size)",
    );
    expect(failed.maintenance).toBe(false);
    expect(failed.targetProvisionState).toBe(states.MANAGEABLE);
  });

  it('rejects unknown steps and unexpected arguments, all errors joined with "; "', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [
      { interface: 'deploy', step: 'no_such_step' },
      { interface: 'deploy', step: 'fixture_quick', args: { force: true } },
    ]);
    await lab.agent();
    const failed = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    expect(failed.lastError).toBe(
      "Node failed to start the first cleaning step: node does not support this clean step: {'interface': 'deploy', 'step': 'no_such_step'}; " +
        "clean step {'interface': 'deploy', 'step': 'fixture_quick', 'args': {'force': True}} has these unexpected arguments: force",
    );
  });

  it('rejects a malformed clean_steps argument at the API with "Invalid clean_steps"', async ({ lab }) => {
    const running = await lab.start();
    const node = await enrollHostNode(running.conductor);
    await running.conductor.provision(node.uuid, 'manage');
    const response = await fetch(`${running.url}/v1/nodes/${node.uuid}/states/provision`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'clean', clean_steps: [{ interface: 'vendor', step: 'x' }] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error_message: string };
    expect(JSON.parse(body.error_message).faultstring).toMatch(/^Invalid clean_steps: /);
    expect(running.conductor.store.getNode(node.uuid).provisionState).toBe(states.MANAGEABLE);
  });

  it('fails on a FAILED agent step: CLEANFAIL, maintenance, fault and Ironic’s last_error', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [
      { interface: 'deploy', step: 'fixture_failing' },
      { interface: 'deploy', step: 'fixture_quick' },
    ]);
    await lab.agent();
    const failed = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    expect(failed.lastError).toMatch(
      new RegExp(`^Clean step deploy.fixture_failing failed on node ${node.uuid}. .*the fixture step failed on purpose`),
    );
    expect(failed.maintenance).toBe(true);
    expect(failed.fault).toBe('clean failure');
    expect(failed.maintenanceReason).toBe(failed.lastError);
    expect(failed.cleanStep).toEqual({});
    expect(failed.driverInternalInfo).not.toHaveProperty('agent_secret_token');
  });

  it('aborts an abortable running step at once', async ({ lab }) => {
    const { conductor } = await lab.start();
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'clean', {
      cleanSteps: [{ interface: 'deploy', step: 'fixture_slow', args: { seconds: 3 } }],
    });
    await lab.agent();
    await waitFor(
      'the slow step to run',
      () =>
        conductor.store.getNode(node.uuid).cleanStep?.step === 'fixture_slow' &&
        conductor.store.getNode(node.uuid).provisionState === states.CLEANWAIT,
    );
    await conductor.provision(node.uuid, 'abort');
    const aborted = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    await conductor.idle();
    const after = conductor.store.getNode(node.uuid);
    expect(after.lastError).toBe(
      'By request, the clean operation was aborted during or after the completion of step "deploy.fixture_slow"',
    );
    expect(aborted.targetProvisionState).toBe(states.MANAGEABLE);
    expect(after.cleanStep).toBeNull();
  });

  it('lets a non-abortable step finish, then aborts before the next one', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [
      { interface: 'deploy', step: 'fixture_not_abortable' },
      { interface: 'deploy', step: 'fixture_quick' },
    ]);
    const agent = await lab.agent();
    await waitFor(
      'the step to run',
      () =>
        conductor.store.getNode(node.uuid).cleanStep?.step === 'fixture_not_abortable' &&
        conductor.store.getNode(node.uuid).provisionState === states.CLEANWAIT,
    );
    const token = conductor.store.getNode(node.uuid).driverInternalInfo.agent_secret_token as string;
    await conductor.provision(node.uuid, 'abort');
    expect(conductor.store.getNode(node.uuid).cleanStep).toMatchObject({ step: 'fixture_not_abortable', abort_after: true });
    expect(conductor.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);
    await waitForState(conductor, node.uuid, states.CLEANFAIL);
    await conductor.idle();
    expect(conductor.store.getNode(node.uuid).lastError).toBe(
      'By request, the clean operation was aborted during or after the completion of step "deploy.fixture_not_abortable"',
    );
    expect(await executedSteps(agent, token)).toEqual(['fixture_not_abortable']);
  });

  it('reboots after a reboot_requested step; the agent looks up again and cleaning goes on', async ({ lab }) => {
    // Automated cleaning: a manual step dict carries only abortable/priority from the agent
    // (no reboot_requested), exactly as in Ironic 2023.1, so only automated steps reboot.
    const { conductor } = await lab.start({
      conf: { conductor: { cleanStepPriorityOverride: { 'deploy.fixture_reboot': 50 } } },
    });
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    const agent = await lab.agent();
    const tokens: string[] = [];
    let rebootSeen = false;
    const done = await waitFor('cleaning to end', () => {
      const n = conductor.store.getNode(node.uuid);
      const token = n.driverInternalInfo.agent_secret_token as string | undefined;
      if (token && tokens[tokens.length - 1] !== token) tokens.push(token);
      rebootSeen ||= n.driverInternalInfo.cleaning_reboot === true;
      return n.provisionState === states.AVAILABLE || n.provisionState === states.CLEANFAIL ? n : undefined;
    });
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.AVAILABLE);
    expect(rebootSeen).toBe(true);
    // A second lookup after the reboot handed out a second one-time token.
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    // The rebooted agent forgot its commands: only the step after the reboot is in its list.
    expect(await executedSteps(agent, tokens[tokens.length - 1]!)).toEqual(['fixture_quick']);
  });

  it('re-runs the current manual step after the agent reports CLEAN_VERSION_MISMATCH', async ({ lab }) => {
    const { conductor, node } = await manualCleaning(lab, [
      { interface: 'deploy', step: 'fixture_slow', args: { seconds: 1 } },
      { interface: 'deploy', step: 'fixture_quick' },
    ]);
    const agent = await lab.agent();
    await waitFor('the slow step to run', () => {
      const n = conductor.store.getNode(node.uuid);
      return n.provisionState === states.CLEANWAIT && n.cleanStep?.step === 'fixture_slow';
    });
    // As if the agent's managers changed since the conductor cached their versions.
    const { withTask } = await import('../../src/conductor/task.js');
    await withTask(conductor, node.uuid, {}, (task) => {
      task.node.driverInternalInfo.hardware_manager_version = { conductor_fixture: '0.9' };
      task.node.save();
    });
    const done = await waitForState(conductor, node.uuid, [states.MANAGEABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    const commands = JSON.parse(agent.runner.listBody().toString()).commands as Array<{
      command_name: string;
      command_status: string;
      command_params?: unknown;
      command_result: any;
    }>;
    const runs = commands.filter((c) => c.command_name === 'execute_clean_step').map((c) => c.command_status);
    // fixture_slow, then fixture_quick refused for its stale version, then fixture_quick again.
    expect(runs).toEqual(['SUCCEEDED', 'CLEAN_VERSION_MISMATCH', 'SUCCEEDED']);
  });

  it('fails a node whose agent never calls back once clean_callback_timeout has passed', async ({ lab }) => {
    const { conductor } = await lab.start({ conf: { conductor: { cleanCallbackTimeout: 1 } } });
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.CLEANWAIT);
    await new Promise((r) => setTimeout(r, 1100));
    await conductor.runPeriodicsOnce();
    const failed = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    expect(failed.lastError).toBe(
      'Timeout reached while cleaning the node. Please check if the ramdisk responsible for the cleaning is running on the node. Failed on step null.',
    );
  });
});
