// Results are masked by key (`password`, `token`, `secret`, ...), but a step listing's
// hardware_manager_version is keyed by manager names: Ironic sends those versions back with
// every step, and a masked one (`***`) made the agent answer CLEAN_VERSION_MISMATCH, and
// Ironic start cleaning over, for ever.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const SECRET_NAMED = join(import.meta.dirname, '..', 'fixtures', 'secret-named-manager');
let agent: RunningAgent;
let client: AgentTestClient;
const node = { uuid: 'a4b5a6c7-0000-4000-8000-000000000002', driver_internal_info: {} };

beforeAll(async () => {
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [SECRET_NAMED] });
  client = new AgentTestClient(agent.url);
});
afterAll(() => agent.close());

it('lists the version of a manager named like a secret as it is, and runs its step with that version', async () => {
  const listing = await client.post('clean.get_clean_steps', { node, ports: [] });
  expect(listing.body.command_result.hardware_manager_version).toEqual({ bmc_password_rotation: '1.1' });

  // As Ironic does: the versions from the listing come back as clean_version.
  const step = { step: 'rotate_bmc_password', interface: 'deploy', priority: 0, args: { new_password: 'hunter22' } };
  const run = await client.post(
    'clean.execute_clean_step',
    { step, node, ports: [], clean_version: listing.body.command_result.hardware_manager_version },
    true,
  );
  expect(run.body.command_status, JSON.stringify(run.body.command_error)).toBe('SUCCEEDED');
  expect(run.body.command_result.clean_result).toBe('rotated');
  // The step's own secret arguments are still masked in the echo.
  expect(run.body.command_result.clean_step.args.new_password).toBe('***');

  // The listing is the same from the command list a conductor polls.
  const listed = await client.list();
  const kept = listed.body.commands.find((c: { id: string }) => c.id === listing.body.id);
  expect(kept.command_result.hardware_manager_version).toEqual({ bmc_password_rotation: '1.1' });
});
