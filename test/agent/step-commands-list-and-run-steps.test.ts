// clean / deploy / service step commands through the HTTP API (reference §4, §4.1, §4.2):
// result shapes, argument merging, error wrapping and the version check as Ironic sees them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../helpers/agent.js';

let agent: RunningAgent;
let client: AgentTestClient;
const node = { uuid: 'a4b5a6c7-0000-4000-8000-000000000001', driver_internal_info: {} };
const versions = { fixture_mainline: '2.0', fixture_generic: '1.5' };

beforeAll(async () => {
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
  client = new AgentTestClient(agent.url);
});
afterAll(() => agent.close());

describe.each(['clean', 'deploy', 'service'] as const)('%s phase', (phase) => {
  it(`get_${phase}_steps returns steps grouped by manager class and the managers' versions`, async () => {
    const res = await client.post(`${phase}.get_${phase}_steps`, { node, ports: [] });
    expect(res.status).toBe(200);
    expect(res.body.command_name).toBe(`get_${phase}_steps`);
    const result = res.body.command_result;
    expect(Object.keys(result).sort()).toEqual([`${phase}_steps`, 'hardware_manager_version'].sort());
    expect(result.hardware_manager_version).toEqual(versions);
    for (const steps of Object.values(result[`${phase}_steps`]) as any[][]) {
      for (const step of steps) {
        expect(step).toEqual(
          expect.objectContaining({ step: expect.any(String), priority: expect.any(Number), interface: expect.any(String) }),
        );
      }
    }
  });
});

describe('execute_*_step', () => {
  it('returns {<phase>_result, <phase>_step} with the step exactly as sent, args merged in', async () => {
    const step = { step: 'fixture_args', args: { level: '10' }, interface: 'raid', priority: 0, reboot_requested: false };
    const res = await client.post('clean.execute_clean_step', { step, node, ports: [], clean_version: versions }, true);
    expect(res.body.command_status).toBe('SUCCEEDED');
    expect(res.body.command_result).toEqual({ clean_result: { built: { level: '10', spares: 0 } }, clean_step: step });
  });

  it('service steps use service_version and the service_* keys', async () => {
    const step = { step: 'fixture_args', args: { level: '1', spares: 2 }, interface: 'raid', priority: 0 };
    const res = await client.post('service.execute_service_step', { step, node, ports: [], service_version: versions }, true);
    expect(res.body.command_result).toEqual({ service_result: { built: { level: '1', spares: 2 } }, service_step: step });
  });

  it('deploy steps wrap unexpected failures as DeploymentError', async () => {
    const res = await client.post(
      'deploy.execute_deploy_step',
      { step: { step: 'fixture_unexpected_error' }, node, ports: [] },
      true,
    );
    expect(res.body.command_status).toBe('FAILED');
    expect(res.body.command_error).toEqual({
      type: 'DeploymentError',
      code: 500,
      message: 'Deploy step failed',
      details: 'Unexpected exception performing deploy step fixture_unexpected_error. TypeError: disk went away',
    });
  });

  it('a step no manager has fails with HardwareManagerMethodNotFound', async () => {
    const res = await client.post('deploy.execute_deploy_step', { step: { step: 'no_such_step' }, node, ports: [] }, true);
    expect(res.body.command_status).toBe('FAILED');
    expect(res.body.command_error).toMatchObject({
      type: 'HardwareManagerMethodNotFound',
      details: 'Could not find method: no_such_step',
    });
  });

  it('an IPA error from the step is reported as raised', async () => {
    const res = await client.post('clean.execute_clean_step', { step: { step: 'fixture_ipa_error' }, node, ports: [] }, true);
    expect(res.body.command_error).toEqual({
      type: 'BlockDeviceEraseError',
      code: 500,
      message: 'Error erasing block device',
      details: '/dev/sdz is frozen and cannot be erased',
    });
  });

  it('bad step args fail the command (not the HTTP request) with InvalidCommandParamsError', async () => {
    const res = await client.post('clean.execute_clean_step', {
      step: { step: 'fixture_args', args: { level: '5' } },
      node,
      ports: [],
    });
    expect(res.status).toBe(200);
    const done = await client.waitFor(res.body.id);
    expect(done.command_status).toBe('FAILED');
    expect(done.command_error.type).toBe('InvalidCommandParamsError');
    expect(done.command_error.details).toMatch(/^step fixture_args: level: /);
  });

  it('a step without a name is a 400', async () => {
    const res = await client.post('clean.execute_clean_step', { step: { args: {} }, node, ports: [] });
    expect(res.status).toBe(400);
    expect(res.body.faultstring).toMatch(/^Invalid command parameters: step\.step: /);
  });

  it('changed manager versions → CLEAN_VERSION_MISMATCH with a null result, so Ironic restarts cleaning', async () => {
    const res = await client.post(
      'clean.execute_clean_step',
      { step: { step: 'shared_step' }, node, ports: [], clean_version: { generic_hardware_manager: '1.2' } },
      true,
    );
    expect(res.body.command_status).toBe('CLEAN_VERSION_MISMATCH');
    expect(res.body.command_result).toBeNull();
    expect(res.body.command_error).toMatchObject({ type: 'VersionMismatch', code: 409 });
  });

  it('the node sent with a command is cached for later steps', async () => {
    await client.post('clean.get_clean_steps', { node: { ...node, name: 'rack-7' }, ports: [] });
    expect(agent.services.node.current?.name).toBe('rack-7');
  });
});
