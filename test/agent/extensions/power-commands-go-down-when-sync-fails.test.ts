/**
 * standby.power_off / run_image when the flush before them fails (here a vendor manager's
 * full_sync): the machine still goes down, as IPA's `_run_shutdown_command` only warns
 * ("Failed to sync file system buffers"). With the `agent` power interface run_image is
 * Ironic's only way to reboot the node. standby.sync itself still reports the failure.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../../helpers/agent.js';

const FAILING_SYNC = join(import.meta.dirname, '..', '..', 'fixtures', 'power-managers');
const agents: RunningAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function start() {
  const agent = await startTestAgent({
    loadShippedManagers: false,
    hardwareManagerPaths: [FIXTURE_MANAGERS, FAILING_SYNC],
    powerActions: 'simulate',
  });
  agents.push(agent);
  return { agent, client: new AgentTestClient(agent.url) };
}

/** The agent going dark (the power action happened), or the command's end if it never does. */
async function outcome(agent: RunningAgent, client: AgentTestClient, id: string): Promise<string> {
  const commandEnd = client.waitFor(id).then(
    (body: { command_status: string; command_error: unknown }) =>
      `command ${body.command_status}: ${JSON.stringify(body.command_error)}`,
    // The API closed under the poll: the power action won the race.
    () => new Promise<string>(() => undefined),
  );
  return Promise.race([agent.stopped, commandEnd]);
}

describe('power commands when the flush fails', () => {
  it.each([
    ['standby.run_image', 'reboot'],
    ['standby.power_off', 'power_off'],
  ])('%s still performs the %s', async (command, action) => {
    const { agent, client } = await start();
    const started = await client.post(command, {});
    expect(started.status).toBe(200);
    expect(started.body.command_status).toBe('RUNNING');
    expect(await outcome(agent, client, started.body.id)).toBe(`simulated ${action}`);
    expect(agent.power.history.map((r) => r.action)).toEqual([action]);
  });

  it('standby.sync reports the failed flush as a FAILED command (HTTP 200), as IPA', async () => {
    const { agent, client } = await start();
    const { status, body } = await client.post('standby.sync', {}, true);
    expect(status).toBe(200);
    expect(body.command_status).toBe('FAILED');
    expect(body.command_error.details).toContain('controller cache flush timed out');
    expect(agent.power.history).toEqual([]);
  });
});
