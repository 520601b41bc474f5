/**
 * Two managers from different packages with one class name: the agent keys get_*_steps'
 * listing and every manager's collect_system_logs result by class name (as IPA's
 * dispatch_to_all_managers does), so with both loaded one manager's log entries vanished from
 * the bundle without a word. The second is refused at load and the problem names both
 * managers and both folders; the first keeps working, its logs in the bundle.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'same-class-managers');
let agent: RunningAgent;
let client: AgentTestClient;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-same-class-'));
  agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [MANAGERS] });
  await agent.ready;
  client = new AgentTestClient(agent.url);
});

afterAll(async () => {
  await agent?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('refuses the second manager of a class name and says which two collide', async () => {
  const { body } = await client.post('clean.get_clean_steps', { node: {}, ports: [] }, true);
  expect(body.command_status).toBe('SUCCEEDED');
  const result = body.command_result;
  expect(result.hardware_manager_version).toEqual({ acme_first: '1.0' });
  expect(result.clean_steps.AcmeHardwareManager.map((s: { step: string }) => s.step)).toEqual(['acme_first_step']);
  expect(result.hardware_manager_problems).toEqual([
    {
      source: join(MANAGERS, 'b-second'),
      message: `hardware manager "acme_second" has the class name "AcmeHardwareManager" of hardware manager "acme_first" already loaded from ${join(MANAGERS, 'a-first', 'index.ts')}; results keyed by class name would hide one of them: give it a className of its own`,
    },
  ]);
});

it("keeps the loaded manager's log entries in the bundle", async () => {
  const { body } = await client.post('log.collect_system_logs', {}, true);
  expect(body.command_status).toBe('SUCCEEDED');
  const bundle = join(dir, 'bundle.tar.gz');
  writeFileSync(bundle, Buffer.from(body.command_result.system_logs, 'base64'));
  const names = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' }).trim().split('\n');
  expect(names).toContain('acme-first/events.txt');
  expect(names).not.toContain('acme-second/events.txt');
});
