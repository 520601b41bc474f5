/**
 * A vendor's plugin that is a plain folder of JavaScript (an `index.mjs`, no package.json, as
 * the guide allows) importing the contract by name, `ramdisk-agent/hardware`, loads in a real
 * agent process: the name is routed to the agent's own contract whether or not a package.json
 * declares the dependency, and whatever plugin was loaded before it. Before, only a plugin
 * listing `ramdisk-agent` in its package.json had the name routed; this one failed to load
 * ("Cannot find package 'ramdisk-agent'") unless such a plugin happened to load first.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { spawnAgentProcess, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';
import { freePort } from '../interop/harness/free-port.js';

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

it('lists and runs the step of a package.json-less plugin that imports ramdisk-agent/hardware', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-plain-plugin-'));
  const plugin = join(dir, 'managers', 'acme');
  mkdirSync(plugin, { recursive: true });
  // Split in two files, as a vendor does: only the second one names the contract.
  writeFileSync(join(plugin, 'index.mjs'), "export { default } from './manager.mjs';\n");
  writeFileSync(
    join(plugin, 'manager.mjs'),
    `import { defineHardwareManager, defineStep, HardwareSupport, z } from 'ramdisk-agent/hardware';
const flash = defineStep({
  name: 'acme_flash',
  clean: { priority: 0 },
  args: z.object({ slot: z.number().int().default(1) }),
  run: (ctx, { slot }) => ({ slot }),
});
export default defineHardwareManager({
  name: 'acme_plain',
  version: '1.0',
  evaluateHardwareSupport: () => HardwareSupport.SERVICE_PROVIDER,
  steps: [flash],
});
`,
  );
  const port = await freePort();
  const args = standaloneAgentArgs({
    dir,
    port,
    logLevel: 'warn',
    extra: ['--no-shipped-managers', '--hardware-manager-path', join(dir, 'managers')],
    config: { discover_installed_plugins: false },
  });
  const agent = await spawnAgentProcess(args, port);
  child = agent.child;
  const { url } = agent;
  const response = await fetch(`${url}/v1/commands/?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'clean.get_clean_steps', params: { node: { uuid: 'n1' }, ports: [] } }),
  }).catch((error: unknown) => {
    throw new Error(`the agent did not answer (${String(error)}): ${agent.output()}`);
  });
  const listed = (await response.json()) as any;
  expect(listed.command_status, `${JSON.stringify(listed)}\n${agent.output()}`).toBe('SUCCEEDED');
  expect(listed.command_result.hardware_manager_version).toEqual({ acme_plain: '1.0' });
  expect(listed.command_result.clean_steps.acme_plain).toEqual([
    {
      step: 'acme_flash',
      priority: 0,
      interface: 'deploy',
      reboot_requested: false,
      abortable: false,
      argsinfo: { slot: { description: 'slot', required: false } },
    },
  ]);
  expect(listed.command_result.hardware_manager_problems).toBeUndefined();
}, 120_000);
