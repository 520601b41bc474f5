// A step aborted while it runs (Ironic power-cycled the node: the agent resets) does not pass
// the step on to the next manager when it then declines with IncompatibleHardwareMethodError,
// IPA's idiom for "my tool failed, let the generic manager do it": nothing starts after an
// abort. IPA has no abort (the node simply loses power), so it never meets this case.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'abort-dispatch-managers');
const node = { uuid: '0b7e3c55-0000-4000-8000-0000000ab0a7', driver_internal_info: {} };

let agent: RunningAgent;
let client: AgentTestClient;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'abort-dispatch-'));
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [MANAGERS] });
  client = new AgentTestClient(agent.url);
});
afterAll(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

const execute = (marker: string) =>
  client.post('clean.execute_clean_step', {
    step: { step: 'wipe_controller', args: { marker }, interface: 'deploy', priority: 0 },
    node,
    ports: [],
  });

async function untilRunningWithProgress(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await client.get(id);
    if (body.command_status === 'RUNNING' && body.command_progress?.tool === 'acme-wipe') return;
    if (Date.now() > deadline) throw new Error(`the vendor step never reported progress: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('not aborted, a declined step falls through to the generic manager, as in IPA', async () => {
  const marker = join(dir, 'decline-at-once');
  const started = await execute(marker);
  const done = await client.waitFor(started.body.id);
  expect(done.command_status).toBe('SUCCEEDED');
  expect(done.command_result.clean_result).toBe('fallback wiped');
  expect(existsSync(marker)).toBe(true);
});

it('aborted, the vendor step declining starts nothing more: the generic step never runs', async () => {
  const marker = join(dir, 'aborted');
  const started = await execute(marker);
  await untilRunningWithProgress(started.body.id);
  // What the agent does when the conductor power-cycles the node (conductor-link.ts); it
  // returns once the command's function has returned.
  await agent.runner.reset('test: the conductor restarted this node');
  expect(existsSync(marker)).toBe(false);
});
