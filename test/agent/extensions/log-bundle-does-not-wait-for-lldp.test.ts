/**
 * With `ipa-collect-lldp`, log.collect_system_logs answers without listening for LLDP: its
 * inventory.json leaves LLDP out. Listening (tcpdump on every NIC) waited `lldp_timeout` (30 s
 * by default) for frames a switch without LLDP never sends, and Ironic gives the whole command
 * 60 s (`[agent]command_timeout`) before it drops the logs. poll.get_hardware_info still
 * listens, as IPA's does.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { hasCommand } from '../../../src/hardware/exec.js';
import { AgentTestClient, FIXTURE_MANAGERS, startTestAgent } from '../../helpers/agent.js';

const LLDP_TIMEOUT_S = 15;
// Listening needs tcpdump (and root, to open the NICs): without it nothing waits anyway.
const canListen = (await hasCommand('tcpdump')) && process.getuid?.() === 0;
let agent: RunningAgent;

beforeAll(async () => {
  agent = await startTestAgent({
    loadShippedManagers: false,
    hardwareManagerPaths: [FIXTURE_MANAGERS],
    collectLldp: true,
    lldpTimeout: LLDP_TIMEOUT_S,
  });
});

afterAll(async () => {
  await agent.close();
});

describe.skipIf(!canListen)('log.collect_system_logs with ipa-collect-lldp', () => {
  it('returns the bundle well before lldp_timeout; the inventory still lists the NICs', async () => {
    const client = new AgentTestClient(agent.url);
    const started = Date.now();
    const { status, body } = await client.post('log.collect_system_logs', {}, true);
    const elapsedMs = Date.now() - started;
    expect(status).toBe(200);
    expect(body.command_status).toBe('SUCCEEDED');
    expect(elapsedMs).toBeLessThan((LLDP_TIMEOUT_S * 1000) / 2);

    const archive = Buffer.from(body.command_result.system_logs, 'base64');
    const inventory = JSON.parse(execFileSync('tar', ['-xzO', 'inventory.json'], { input: archive, encoding: 'utf8' })) as {
      interfaces: Array<{ name: string; lldp: unknown }>;
    };
    expect(inventory.interfaces.length).toBeGreaterThan(0);
    expect(inventory.interfaces.every((i) => i.lldp === null)).toBe(true);
  }, 60_000);
});
