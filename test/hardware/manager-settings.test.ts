// A manager's own settings (hardware_managers.<name> in the config file): validated by the
// manager's schema with defaults, unknown keys refused, seen by that manager only; a bad
// section disables that manager, reported, and the agent keeps serving.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { loadAgentConfig } from '../../src/agent/config/load.js';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { run } from '../../src/hardware/exec.js';
import { defineHardwareManager, defineStep, HardwareSupport, z, type BlockDevice } from '../../src/hardware/index.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { ManagerRegistry } from '../../src/hardware/registry.js';
import type { StepContext } from '../../src/hardware/step-context.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';

const MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'settings-managers');
const node = { uuid: '0f3c2a8e-0000-4000-8000-0000000000a5' };

describe('from the config file to the step, over HTTP', () => {
  let agent: RunningAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  it('the config file takes hardware_managers, one section per manager name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-config-'));
    try {
      const configFile = join(dir, 'agent.json');
      writeFileSync(configFile, JSON.stringify({ hardware_managers: { acme_settings: { retries: 5 } } }));
      const config = await loadAgentConfig({ config: {}, configFile, cmdlineFile: '/dev/null', help: false });
      expect(config.hardwareManagers).toEqual({ acme_settings: { retries: 5 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a step sees its own manager's settings with defaults and the documented agent settings, nothing else", async () => {
    agent = await startTestAgent({
      loadShippedManagers: false,
      hardwareManagerPaths: [MANAGERS],
      agentToken: 'secret-token-value',
      hardwareManagers: { acme_settings: { retries: 5 } },
    });
    const client = new AgentTestClient(agent.url, 'secret-token-value');
    const acme = await client.post('clean.execute_clean_step', { step: { step: 'acme_show_settings' }, node, ports: [] }, true);
    expect(acme.body.command_status).toBe('SUCCEEDED');
    const seen = acme.body.command_result.clean_result;
    expect(seen.own).toEqual({ flash_tool: '/usr/sbin/acmeflash', retries: 5 });
    expect(seen.agent).not.toContain('agentToken');
    expect(seen.agent).toContain('imageDownloadConnectionRetries');
    const other = await client.post('clean.execute_clean_step', { step: { step: 'no_settings_show' }, node, ports: [] }, true);
    expect(other.body.command_result.clean_result).toEqual({ own: {} });
  });

  it('an unknown key or a bad value disables that manager, reported beside the steps; the others still serve', async () => {
    agent = await startTestAgent({
      loadShippedManagers: false,
      hardwareManagerPaths: [MANAGERS],
      hardwareManagers: { acme_settings: { retrys: 5, flash_tool: 7 }, acme_setting: {} },
    });
    const client = new AgentTestClient(agent.url);
    const res = await client.post('clean.get_clean_steps', { node, ports: [] });
    const result = res.body.command_result;
    expect(Object.keys(result.clean_steps)).toEqual(['no_settings']);
    expect(result.hardware_manager_problems).toEqual([
      { source: 'config file', message: 'hardware_managers.acme_setting: no hardware manager of that name was loaded' },
      expect.objectContaining({
        manager: 'acme_settings',
        message: expect.stringMatching(
          /^invalid hardware_managers\.acme_settings: .*flash_tool: .*; .*Unrecognized key.*"retrys"/,
        ),
      }),
    ]);
  });
});

describe('each manager sees its own settings only', () => {
  const managerContext = { log: silentLogger, exec: run, guard: new DeviceGuard({ allowList: [] }) };

  it('at start-up, in getSteps, in its steps and in a method another manager dispatches to', async () => {
    const seen: Record<string, unknown> = {};
    const vendor = defineHardwareManager({
      name: 'vendor',
      version: '1',
      settings: z.object({ tool: z.string() }),
      evaluateHardwareSupport: (ctx) => {
        seen.evaluate = ctx.managerSettings;
        return HardwareSupport.SERVICE_PROVIDER;
      },
      initialize: (ctx) => {
        seen.initialize = ctx.managerSettings;
      },
      getSteps: (ctx) => {
        seen.getSteps = ctx.managerSettings;
        return [];
      },
      methods: {
        erase_block_device: (ctx) => {
          seen.method = ctx.managerSettings;
          return null;
        },
      },
    });
    const generic = defineHardwareManager({
      name: 'generic',
      version: '1',
      settings: z.object({ passes: z.number().default(1) }),
      evaluateHardwareSupport: () => HardwareSupport.GENERIC,
      steps: [
        defineStep({
          name: 'erase_all',
          clean: { priority: 0 },
          async run(ctx) {
            seen.step = ctx.managerSettings;
            await ctx.dispatch('erase_block_device', ctx, { path: '/dev/sdx' } as BlockDevice);
          },
        }),
      ],
    });
    const registry = await ManagerRegistry.activate(
      [vendor, generic].map((manager) => ({ manager, source: 'test' })),
      managerContext,
      { managerSettings: { vendor: { tool: '/opt/vendor/erase' } } },
    );
    const ctx: StepContext = {
      node: {},
      ports: [],
      phase: 'clean',
      log: silentLogger,
      progress: { update: () => {} },
      signal: new AbortController().signal,
      guard: managerContext.guard,
      exec: run,
      dispatch: (method, ...args) => registry.dispatchToManagers(method, ...args),
    };
    await registry.listSteps('clean');
    await registry.dispatchStep('erase_all', ctx, {});
    const vendorSettings = { tool: '/opt/vendor/erase' };
    expect(seen).toEqual({
      evaluate: vendorSettings,
      initialize: vendorSettings,
      getSteps: vendorSettings,
      step: { passes: 1 },
      method: vendorSettings,
    });
  });

  it('a section for a manager that declares no settings is refused as unknown keys are', async () => {
    const plain = defineHardwareManager({ name: 'plain', version: '1', evaluateHardwareSupport: () => 1 });
    const other = defineHardwareManager({ name: 'other', version: '1', evaluateHardwareSupport: () => 1 });
    const registry = await ManagerRegistry.activate(
      [plain, other].map((manager) => ({ manager, source: 'test' })),
      managerContext,
      { managerSettings: { plain: { verbose: true } } },
    );
    expect(registry.managers.map((m) => m.manager.name)).toEqual(['other']);
    expect(registry.problems()).toEqual([
      {
        source: 'test',
        manager: 'plain',
        message: 'invalid hardware_managers.plain (this manager declares no settings): Unrecognized key: "verbose"',
      },
    ]);
  });
});
