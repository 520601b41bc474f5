// execute_<phase>_step runs the step get_<phase>_steps listed: the manager whose step Ironic
// cached (and whose argsinfo it checked the operator's args against), never another manager's
// step of the same name offered only for another phase; at equal support the listing's
// winner (higher priority, then class name) runs, and IncompatibleHardwareMethodError passes
// the step on in that same order.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'dispatch-managers');
const node = { uuid: '7d1c0b9e-0000-4000-8000-00000000d15a', driver_internal_info: {} };

let agent: RunningAgent;
let client: AgentTestClient;

beforeAll(async () => {
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [MANAGERS] });
  client = new AgentTestClient(agent.url);
});
afterAll(() => agent.close());

/** `{manager class: [step names]}` of one phase, as Ironic caches it, and the versions. */
async function listing(phase: 'clean' | 'service') {
  const res = await client.post(`${phase}.get_${phase}_steps`, { node, ports: [] });
  expect(res.body.command_status).toBe('SUCCEEDED');
  const steps = res.body.command_result[`${phase}_steps`] as Record<string, { step: string; argsinfo?: object }[]>;
  return { steps, versions: res.body.command_result.hardware_manager_version };
}

function owner(steps: Record<string, { step: string }[]>, name: string): string | undefined {
  return Object.entries(steps).find(([, list]) => list.some((s) => s.step === name))?.[0];
}

async function execute(phase: 'clean' | 'service', step: string, args: Record<string, unknown>, versions: unknown) {
  const res = await client.post(
    `${phase}.execute_${phase}_step`,
    { step: { step, args, interface: 'deploy', priority: 0 }, node, ports: [], [`${phase}_version`]: versions },
    true,
  );
  return res.body;
}

describe('a step name two managers offer for different phases', () => {
  it("servicing runs the service step that was listed, not the higher-support manager's clean-only step", async () => {
    const { steps, versions } = await listing('service');
    expect(owner(steps, 'surface_test')).toBe('DispatchGenericB');
    expect(steps.DispatchGenericB!.find((s) => s.step === 'surface_test')!.argsinfo).toEqual({
      read_only: { description: 'Only read the disks', required: false },
    });
    const done = await execute('service', 'surface_test', {}, versions);
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result.service_result).toEqual({ ran: 'generic read-only surface test', read_only: true });
  });

  it('the args Ironic validated against the listed argsinfo are accepted', async () => {
    const { versions } = await listing('service');
    const done = await execute('service', 'surface_test', { read_only: true }, versions);
    expect(done.command_status).toBe('SUCCEEDED');
  });

  it('cleaning runs the vendor step, which is the one listed for cleaning', async () => {
    const { steps, versions } = await listing('clean');
    expect(owner(steps, 'surface_test')).toBe('DispatchVendorManager');
    const done = await execute('clean', 'surface_test', { passes: 2 }, versions);
    expect(done.command_result.clean_result).toEqual({ ran: 'vendor destructive surface test', passes: 2 });
  });

  it('a step offered in no manager for this phase is not found', async () => {
    const { versions } = await listing('clean');
    const res = await client.post(
      'deploy.execute_deploy_step',
      { step: { step: 'surface_test', args: {}, interface: 'deploy', priority: 0 }, node, ports: [], deploy_version: versions },
      true,
    );
    expect(res.body.command_status).toBe('FAILED');
    expect(res.body.command_error).toMatchObject({
      type: 'HardwareManagerMethodNotFound',
      details: 'Could not find method: surface_test',
    });
  });
});

describe('equal support', () => {
  it("the listing's winner (higher priority) runs, not the manager loaded first", async () => {
    const { steps, versions } = await listing('clean');
    expect(owner(steps, 'tie_step')).toBe('DispatchGenericC');
    const done = await execute('clean', 'tie_step', {}, versions);
    expect(done.command_result.clean_result).toEqual({ ran: 'c tie_step' });
  });

  it("IncompatibleHardwareMethodError passes the step on in the listing's order", async () => {
    const { steps, versions } = await listing('clean');
    expect(owner(steps, 'tuned_erase')).toBe('DispatchVendorManager');
    const done = await execute('clean', 'tuned_erase', {}, versions);
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result.clean_result).toEqual({ ran: 'c tuned_erase' });
  });
});
