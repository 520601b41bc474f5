// Steps per node (IPA's get_clean_steps(node, ports)): a manager's getSteps is asked with the
// node and ports Ironic sends, its steps are held to the load-time rules, and its failures
// stay inside it: its steps are left out and reported, the agent keeps listing and running.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { run } from '../../src/hardware/exec.js';
import { defineHardwareManager, defineStep, HardwareSupport, type StepDefinition } from '../../src/hardware/index.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { ManagerRegistry } from '../../src/hardware/registry.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'node-steps-managers');
const acmeNode = { uuid: '5f0c6c1e-0000-4000-8000-00000000acme', properties: {} };
const acmePorts = [{ address: '52:54:00:12:34:56' }, { address: '00:1b:21:aa:bb:cc' }];
const plainPorts = [{ address: '52:54:00:12:34:56' }];

describe('over HTTP, as a conductor sees it', () => {
  let agent: RunningAgent;
  let client: AgentTestClient;
  beforeAll(async () => {
    agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [MANAGERS] });
    client = new AgentTestClient(agent.url);
  });
  afterAll(() => agent.close());

  const listed = async (node: object, ports: object[]) => {
    const res = await client.post('clean.get_clean_steps', { node, ports });
    expect(res.status).toBe(200);
    return res.body.command_result as {
      clean_steps: Record<string, { step: string }[]>;
      hardware_manager_problems?: { manager?: string; message: string }[];
    };
  };

  it('lists a step only for the nodes whose ports call for it, beside the static ones', async () => {
    const acme = await listed(acmeNode, acmePorts);
    expect(acme.clean_steps.AcmeNicManager!.map((s) => s.step).sort()).toEqual(['acme_nic_firmware', 'acme_self_test']);
    const plain = await listed(acmeNode, plainPorts);
    expect(plain.clean_steps.AcmeNicManager!.map((s) => s.step)).toEqual(['acme_self_test']);
    expect(plain.hardware_manager_problems).toBeUndefined();
  });

  it('runs the per-node step for that node, and refuses it for a node that does not have it', async () => {
    const step = { step: 'acme_nic_firmware', args: { version: '4.2' }, interface: 'deploy', priority: 0 };
    const ran = await client.post('clean.execute_clean_step', { step, node: acmeNode, ports: acmePorts }, true);
    expect(ran.body.command_status).toBe('SUCCEEDED');
    expect(ran.body.command_result.clean_result).toEqual({ flashed: '4.2', node: acmeNode.uuid });
    const refused = await client.post('clean.execute_clean_step', { step, node: acmeNode, ports: plainPorts }, true);
    expect(refused.body.command_status).toBe('FAILED');
    expect(refused.body.command_error.type).toBe('HardwareManagerMethodNotFound');
  });

  it('a getSteps that throws leaves that manager out of the listing, reported; the others are listed', async () => {
    const node = { ...acmeNode, properties: { vendor_tool: 'missing' } };
    const result = await listed(node, acmePorts);
    expect(Object.keys(result.clean_steps)).toEqual(['AcmeNicManager']);
    expect(result.hardware_manager_problems).toEqual([
      expect.objectContaining({
        manager: 'broken_get_steps',
        message: expect.stringMatching(/^getSteps\(\) failed: .*acmetool is not installed/),
      }),
    ]);
    // For other nodes the same manager lists its steps.
    expect((await listed(acmeNode, acmePorts)).clean_steps.broken_get_steps!.map((s) => s.step)).toEqual(['broken_static_step']);
  });

  it('a getSteps that declines with IncompatibleHardwareMethodError has no steps for this node: not a problem', async () => {
    // IPA's dispatch_to_all_managers skips a manager whose get_clean_steps declines so.
    const node = { ...acmeNode, properties: { vendor_tool: 'absent' } };
    const result = await listed(node, acmePorts);
    expect(result.hardware_manager_problems).toBeUndefined();
    expect(result.clean_steps.broken_get_steps!.map((s) => s.step)).toEqual(['broken_static_step']);
    const step = { step: 'broken_static_step', interface: 'deploy', priority: 0 };
    const ran = await client.post('clean.execute_clean_step', { step, node, ports: acmePorts }, true);
    expect(ran.body.command_result.clean_result).toBe('ran');
  });
});

describe('the load-time rules, applied to what getSteps returns', () => {
  const managerContext = { log: silentLogger, exec: run, guard: new DeviceGuard({ allowList: [] }) };
  const good = defineHardwareManager({
    name: 'good',
    version: '1',
    evaluateHardwareSupport: () => HardwareSupport.GENERIC,
    steps: [defineStep({ name: 'good_step', deploy: { priority: 50 }, run: () => null })],
  });
  const problemOf = async (getSteps: () => unknown, startTimeoutMs = 5_000) => {
    const vendor = defineHardwareManager({
      name: 'vendor',
      version: '1',
      evaluateHardwareSupport: () => HardwareSupport.SERVICE_PROVIDER,
      steps: [defineStep({ name: 'vendor_static', deploy: { priority: 60 }, run: () => null })],
      getSteps: getSteps as () => StepDefinition[],
    });
    const registry = await ManagerRegistry.activate(
      [vendor, good].map((manager) => ({ manager, source: `/plugins/${manager.name}` })),
      managerContext,
      { startTimeoutMs },
    );
    const { steps, problems } = await registry.listSteps('deploy', {}, []);
    expect(Object.keys(steps)).toEqual(['good']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ source: '/plugins/vendor', manager: 'vendor' });
    return problems[0]!.message;
  };

  it('a deploy priority outside 41-99 names the file and line of the defineStep', async () => {
    const message = await problemOf(() => [defineStep({ name: 'too_early', deploy: { priority: 30 }, run: () => null })]);
    expect(message).toMatch(/Step "too_early" \(.*steps-per-node\.test\.ts:\d+:\d+\): deploy priority 30 is outside 41-99/);
  });

  it('an interface the conductor does not route to the agent is refused', async () => {
    const message = await problemOf(() => [
      defineStep({ name: 'bios_tune', deploy: { priority: 70, interface: 'bios' as 'deploy' }, run: () => null }),
    ]);
    expect(message).toMatch(/interface "bios" is not one a conductor routes to the agent/);
  });

  it('a name already among the static steps is a duplicate', async () => {
    const message = await problemOf(() => [defineStep({ name: 'vendor_static', deploy: { priority: 70 }, run: () => null })]);
    expect(message).toMatch(/declares step "vendor_static" twice/);
  });

  it('something that is not a list of defineStep() steps is refused', async () => {
    expect(await problemOf(() => ({ step: 'x' }))).toMatch(/getSteps\(\) returned object, not a list of steps/);
    expect(await problemOf(() => [{ name: 'hand_made', run: () => null }])).toMatch(/every step must come from defineStep\(\)/);
  });

  it('a getSteps that never answers is cut off at the start timeout', async () => {
    const message = await problemOf(() => new Promise(() => {}), 200);
    expect(message).toBe('getSteps() failed: getSteps() did not finish within 0.2 s');
  });
});
