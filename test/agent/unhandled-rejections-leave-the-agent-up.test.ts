/**
 * A promise rejection a hardware manager leaves unhandled (in evaluateHardwareSupport(), in a
 * step) is logged and the agent process keeps serving. Node's default ended the process: in
 * the ramdisk, init restarted it and the same manager ended it again, so the node was never
 * looked up. A real agent process started as the ramdisk starts it (the CLI).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { spawnAgentProcess, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';
import { freePort } from '../interop/harness/free-port.js';

const PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'unawaited-rejection-plugin');
let child: ChildProcess | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function command(url: string, name: string, params: Record<string, unknown>, wait: boolean) {
  const response = await fetch(`${url}/v1/commands/${wait ? '?wait=true' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, params }),
  });
  return (await response.json()) as any;
}

it('the agent logs the rejections, keeps its managers and runs the step', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-rejections-'));
  const port = await freePort();
  const args = standaloneAgentArgs({
    dir,
    port,
    logLevel: 'info',
    extra: ['--no-shipped-managers', '--hardware-manager-path', PLUGIN],
    config: { discover_installed_plugins: false },
  });
  const agent = await spawnAgentProcess(args, port);
  child = agent.child;
  const { url } = agent;

  const node = { uuid: '7d1c0a3e-5a1f-4c55-9f0e-2b3c4d5e6f70' };
  const listed = await command(url, 'clean.get_clean_steps', { node, ports: [] }, true);
  expect(listed.command_status, JSON.stringify(listed)).toBe('SUCCEEDED');
  expect(listed.command_result.clean_steps.unawaited_rejections.map((s: { step: string }) => s.step)).toEqual([
    'acme_forgets_a_promise',
  ]);
  const started = await command(
    url,
    'clean.execute_clean_step',
    {
      node,
      ports: [],
      step: { step: 'acme_forgets_a_promise', interface: 'deploy', args: {} },
      clean_version: listed.command_result.hardware_manager_version,
    },
    false,
  );
  let record: any;
  do {
    await sleep(50);
    record = await (await fetch(`${url}/v1/commands/${started.id}`)).json();
  } while (record.command_status === 'RUNNING');
  expect(record.command_status, JSON.stringify(record.command_error)).toBe('SUCCEEDED');
  expect(record.command_result.clean_result).toBe('flashed');

  await sleep(500);
  expect(child.exitCode, agent.output()).toBeNull();
  expect((await fetch(`${url}/v1/status`)).ok).toBe(true);
  const logged = agent
    .output()
    .split('\n')
    .filter((line) => line.includes('unhandled promise rejection'));
  expect(logged.map((line) => /acmecli (\w+): not found/.exec(line)?.[1])).toEqual(['probe', 'flash']);
}, 120_000);
