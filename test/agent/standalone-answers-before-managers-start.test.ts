// A standalone agent (no conductor to see IPA's order) answers its API before its hardware
// managers have started; commands wait for them; managers that cannot start still stop it.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../helpers/agent.js';

const GATED_MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'gated-managers');
const GATE = Symbol.for('ramdisk-agent.test.hardware-gate');
const node = { uuid: 'a4b5a6c7-0000-4000-8000-000000000001', driver_internal_info: {} };

let agent: RunningAgent | undefined;
afterEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[GATE];
  await agent?.close();
  agent = undefined;
});

/** A gate the fixture manager's evaluateHardwareSupport() waits on until `open()`. */
function closeGate(): { open: () => void } {
  let open!: () => void;
  (globalThis as Record<symbol, unknown>)[GATE] = new Promise<void>((resolve) => (open = resolve));
  return { open };
}

describe('standalone start-up', () => {
  it('answers /v1/status while a manager still evaluates its support; a command waits and then runs', async () => {
    const gate = closeGate();
    agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [GATED_MANAGERS] });
    let ready = false;
    void agent.ready.then(() => (ready = true));

    const status = await fetch(`${agent.url}/v1/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ started_at: expect.any(Number), version: expect.any(String) });

    let answered = false;
    const steps = new AgentTestClient(agent.url).post('clean.get_clean_steps', { node, ports: [] }).finally(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ready).toBe(false);
    expect(answered).toBe(false);

    gate.open();
    const res = await steps;
    expect(res.status).toBe(200);
    expect(res.body.command_result.hardware_manager_version).toEqual({ gated: '1.0' });
    expect(res.body.command_result.clean_steps.gated.map((s: { step: string }) => s.step)).toEqual(['gated_step']);
    expect(ready).toBe(true);
  });

  it('starts its managers by itself when nobody asks anything', async () => {
    agent = await startTestAgent({ loadShippedManagers: false, hardwareManagerPaths: [FIXTURE_MANAGERS] });
    await agent.ready;
    expect(agent.services.hardware.managers.map((m) => m.manager.name).sort()).toEqual(['fixture_generic', 'fixture_mainline']);
  });

  it('reports through `ready` when no manager supports the machine, as a start-up failure', async () => {
    agent = await startTestAgent({
      loadShippedManagers: false,
      hardwareManagerPaths: [join(FIXTURE_MANAGERS, 'fixture-unsupported')],
    });
    await expect(agent.ready).rejects.toMatchObject({ type: 'HardwareManagerNotFound' });
  });
});
