/**
 * The acceptance test for the API's shape: every example of Ironic's "Developing deploy and
 * clean steps" guide (../shared/seed/developing-deploy-and-clean-steps.txt), written nearly
 * line for line in TypeScript against `src/conductor`, then run by a real conductor (and a
 * real agent where the example needs one). The RAID and BIOS examples:
 * guide-raid-and-bios-examples-run.test.ts.
 */
import { describe, expect } from 'vitest';
import {
  agentBase,
  agentClient,
  AgentDeploy,
  cleanStep,
  type Conductor,
  CustomAgentDeploy,
  deployStep,
  deployUtils,
  InterfaceRegistry,
  ManagementInterface,
  nodePeriodic,
  notifyConductorResumeClean,
  periodics,
  popNodeNestedField,
  setNodeNestedField,
  states,
  type Task,
} from '../../src/conductor/index.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitFor, waitForState } from './helpers.js';

// ---------------------------------------------------------------- "Deploy steps basics"

class DoNothingDeploy extends AgentDeploy {
  @deployStep({
    priority: 200,
    argsinfo: {
      test_arg: {
        description: 'This is a test argument.',
        required: true,
      },
    },
  })
  doNothing(task: Task, args: Record<string, unknown>) {
    void task;
    void args;
    return null;
  }
}

// "If you want to completely replace the deployment procedure, but still have the agent up
// and running, inherit CustomAgentDeploy"
const customCalls: string[] = [];
class MyCustomDeploy extends CustomAgentDeploy {
  override async validate(task: Task) {
    await super.validate(task);
    // ... custom validation
    customCalls.push('validate');
  }

  @deployStep({ priority: 80 })
  myWriteImage(task: Task) {
    void task; // ... custom image writing
    customCalls.push('my_write_image');
  }

  @deployStep({ priority: 70 })
  myConfigureBootloader(task: Task) {
    void task; // ... custom bootloader configuration
    customCalls.push('my_configure_bootloader');
  }
}

// ---------------------------------------------------------------- "Asynchronous steps"

const asyncCalls: string[] = [];
class MyDeploy extends CustomAgentDeploy {
  @deployStep({ priority: 80 })
  myDeploy(task: Task) {
    asyncCalls.push('my_deploy');
    return deployUtils.getAsyncStepReturnState(task.node);
  }

  // Usually you can use a more high-level pattern:

  @deployStep({ priority: 60 })
  myDeploy2(task: Task) {
    asyncCalls.push('my_deploy2');
    const newStep = { interface: 'deploy', step: 'my_deploy2', priority: 60, args: { answer: 42 } };
    const client = agentClient.getClient(task);
    return agentBase.executeStep(task, newStep, 'deploy', { client });
  }
}

// "Execution on reboot"
class MyRebootingManagement extends ManagementInterface {
  getSupportedBootDevices() {
    return ['pxe', 'disk'];
  }
  setBootDevice() {}

  @cleanStep({ priority: 0 })
  myAction(task: Task) {
    const node = task.node;
    // Tell ironic that...
    deployUtils.setAsyncStepFlags(node, {
      // ... we're waiting for IPA to come back after reboot
      reboot: true,
      // ... the current step is done
      skipCurrentStep: true,
    });
    return deployUtils.rebootToFinishStep(task);
  }
}

// "Polling for completion"
const STATUS_CHECK_INTERVAL = 60; // better use a configuration option
let bmcJobDone = false;
const needsActions = () => !bmcJobDone;

class MyPollingManagement extends ManagementInterface {
  getSupportedBootDevices() {
    return ['pxe', 'disk'];
  }
  setBootDevice() {}

  @cleanStep({ priority: 0 })
  async myAction(task: Task) {
    const node = task.node;
    const rebootRequired = false; // your step may or may not need rebooting

    // Make this node as running my_action. Often enough you will store
    // some useful data rather than a boolean flag.
    setNodeNestedField(task.node, 'driver_internal_info', 'in_my_action', true);

    // Tell ironic that...
    deployUtils.setAsyncStepFlags(node, {
      // ... we're waiting for IPA to come back after reboot
      reboot: rebootRequired,
      // ... the current step shouldn't be entered again
      skipCurrentStep: true,
      // ... we'll be polling until the step is done
      polling: true,
    });

    if (rebootRequired) return deployUtils.rebootToFinishStep(task);
    // (The guide leaves this out; without it the step would count as finished at once.)
    return deployUtils.getAsyncStepReturnState(task.node);
  }

  @nodePeriodic({
    purpose: 'checking my action status',
    spacing: STATUS_CHECK_INTERVAL,
    filters: {
      // Skip nodes that already have a lock
      reserved: false,
      // Only consider nodes that are waiting for cleaning or failed on timeout.
      provisionStateIn: [states.CLEANWAIT, states.CLEANFAIL],
    },
    // Load driver_internal_info from the database on listing
    predicateExtraFields: ['driverInternalInfo'],
    // Only consider nodes with in_my_action
    predicate: (n) => n.driverInternalInfo?.in_my_action,
  })
  async checkMyAction(task: Task, manager: unknown, context: unknown) {
    void manager;
    void context;
    if (needsActions()) return; // insert your checks here

    await task.upgradeLock();

    // ... do any required updates

    // Drop the flag so that this node is no longer considered
    popNodeNestedField(task.node, 'driver_internal_info', 'in_my_action');
    task.node.save();
    notifyConductorResumeClean(task);
  }
}

function registry(): InterfaceRegistry {
  const interfaces = new InterfaceRegistry();
  interfaces.register('deploy', 'seed-do-nothing', DoNothingDeploy);
  interfaces.register('deploy', 'seed-custom', MyCustomDeploy);
  interfaces.register('deploy', 'seed-async', MyDeploy);
  interfaces.register('management', 'seed-reboot', MyRebootingManagement);
  interfaces.register('management', 'seed-polling', MyPollingManagement);
  return interfaces;
}

async function availableNode(
  conductor: Conductor,
  interfaces: Record<string, string>,
  extra: Parameters<typeof enrollHostNode>[1] = {},
): Promise<string> {
  const node = await enrollHostNode(conductor, {
    automatedClean: false,
    interfaces: { deploy: 'custom-agent', ...interfaces },
    ...extra,
  });
  await conductor.provision(node.uuid, 'manage');
  await conductor.provision(node.uuid, 'provide');
  await waitForState(conductor, node.uuid, states.AVAILABLE);
  return node.uuid;
}

describe('Deploy steps basics', () => {
  it('a do_nothing deploy step at 200 on AgentDeploy shows in driver_internal_info as in the guide', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    const uuid = await availableNode(
      running.conductor,
      { deploy: 'seed-do-nothing' },
      {
        instanceInfo: {
          image_source: 'http://127.0.0.1/image.raw',
          image_os_hash_algo: 'sha256',
          image_os_hash_value: 'ab'.repeat(32),
        },
      },
    );
    await running.conductor.provision(uuid, 'active');
    await waitForState(running.conductor, uuid, states.DEPLOYWAIT);

    // baremetal node show $node_ident -f json -c driver_internal_info
    const shown = (await (await fetch(`${running.url}/v1/nodes/${uuid}?fields=driver_internal_info`)).json()) as {
      driver_internal_info: { deploy_steps: unknown[]; deploy_step_index: number };
    };
    expect(shown.driver_internal_info.deploy_steps.slice(0, 2)).toEqual([
      {
        priority: 200,
        interface: 'deploy',
        step: 'do_nothing',
        argsinfo: { test_arg: { required: true, description: 'This is a test argument.' } },
      },
      { priority: 100, interface: 'deploy', step: 'deploy', argsinfo: null },
    ]);
    expect(shown.driver_internal_info.deploy_step_index).toBe(1);
  });

  it('a CustomAgentDeploy subclass replaces image writing with its own steps and still runs the agent', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    customCalls.length = 0;
    const uuid = await availableNode(running.conductor, { deploy: 'seed-custom' });
    await running.conductor.provision(uuid, 'active');
    await lab.agent();
    const done = await waitForState(running.conductor, uuid, [states.ACTIVE, states.DEPLOYFAIL]);
    expect(done.lastError).toBeNull();
    expect(customCalls).toEqual(['validate', 'my_write_image', 'my_configure_bootloader']);
  });
});

describe('Asynchronous steps', () => {
  it('returns the wait state, and delegates in-band with agentBase.executeStep', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    asyncCalls.length = 0;
    const uuid = await availableNode(running.conductor, { deploy: 'seed-async' });
    await running.conductor.provision(uuid, 'active');
    const agent = await lab.agent();
    const seen = await waitFor('my_deploy2 to run in-band', () => {
      const n = running.conductor.store.getNode(uuid);
      return (n.deployStep as { step?: string } | null)?.step === 'my_deploy2'
        ? (n.driverInternalInfo.agent_secret_token as string)
        : undefined;
    });
    const done = await waitForState(running.conductor, uuid, [states.ACTIVE, states.DEPLOYFAIL]);
    expect(done.lastError).toBeNull();
    expect(asyncCalls).toEqual(['my_deploy', 'my_deploy2']);
    void seen;
    // The agent ran the in-band half with the args the out-of-band step gave it.
    const commands = JSON.parse(agent.runner.listBody().toString()).commands as Array<{
      command_name: string;
      command_result: any;
    }>;
    const inband = commands
      .filter((c) => c.command_name === 'execute_deploy_step')
      .map((c) => [c.command_result.deploy_step.step, c.command_result.deploy_result]);
    expect(inband).toContainEqual(['my_deploy2', { echoed: 42 }]);
  });

  it('execution on reboot: set_async_step_flags(reboot, skip_current_step) + reboot_to_finish_step', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    const node = await enrollHostNode(running.conductor, { interfaces: { deploy: 'custom-agent', management: 'seed-reboot' } });
    await running.conductor.provision(node.uuid, 'manage');
    await running.conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'management', step: 'my_action' }] });
    await lab.agent();
    let flags: Record<string, unknown> | undefined;
    const done = await waitFor('cleaning to end', () => {
      const n = running.conductor.store.getNode(node.uuid);
      if (n.driverInternalInfo.cleaning_reboot) flags ??= { ...n.driverInternalInfo };
      return n.provisionState === states.MANAGEABLE || n.provisionState === states.CLEANFAIL ? n : undefined;
    });
    expect(done.lastError).toBeNull();
    expect(flags).toMatchObject({ cleaning_reboot: true, skip_current_clean_step: true });
    expect(flags).not.toHaveProperty('agent_secret_token');
  });

  it('polling for completion: a node_periodic finishes the step; heartbeats do not', async ({ lab }) => {
    const running = await lab.start({ interfaces: registry() });
    bmcJobDone = false;
    const node = await enrollHostNode(running.conductor, { interfaces: { deploy: 'custom-agent', management: 'seed-polling' } });
    await running.conductor.provision(node.uuid, 'manage');
    await running.conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'management', step: 'my_action' }] });
    await lab.agent();
    await waitFor(
      'my_action to be polled',
      () => running.conductor.store.getNode(node.uuid).driverInternalInfo.cleaning_polling === true,
    );
    // Heartbeats keep coming; the node stays parked while the "BMC job" runs.
    await new Promise((r) => setTimeout(r, 800));
    await running.conductor.runPeriodicsOnce();
    expect(running.conductor.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);
    expect(running.conductor.store.getNode(node.uuid).driverInternalInfo.in_my_action).toBe(true);

    bmcJobDone = true;
    await running.conductor.runPeriodicsOnce();
    const done = await waitForState(running.conductor, node.uuid, [states.MANAGEABLE, states.CLEANFAIL]);
    expect(done.lastError).toBeNull();
    expect(done.driverInternalInfo).not.toHaveProperty('in_my_action');
    expect(periodics.PeriodicStop).toBeTypeOf('function');
  });
});
