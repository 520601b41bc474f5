/**
 * `ipa-agent-token=` with nothing after it (a PXE template that always writes the parameter)
 * is no pre-shared token, as in IPA (agent.py tests the token for truth): the agent starts,
 * looks its node up and guards its API with the lookup's one-time token. Before, the empty
 * value reached the configuration schema ("agentToken: Too small") and the agent never started.
 * Through the real sources: a kernel command line file read by loadAgentConfig, and a lookup
 * against the fake conductor on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { loadAgentConfig } from '../../src/agent/config/load.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { AgentTestClient, FIXTURE_MANAGERS } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;
let dir: string | undefined;

afterEach(async () => {
  await agent?.close();
  await conductor?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('an empty ipa-agent-token= on the kernel command line takes the token from the lookup', async () => {
  const macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
  expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
  conductor = await FakeConductor.start();
  const node = conductor.addNode(macs);
  dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-empty-token-'));
  const cmdlineFile = join(dir, 'cmdline');
  const configFile = join(dir, 'agent.json');
  writeFileSync(cmdlineFile, `BOOT_IMAGE=/vmlinuz ipa-api-url=${conductor.url} ipa-agent-token= ipa-lookup-interval=0.05\n`);
  writeFileSync(configFile, '{}');
  const config = await loadAgentConfig(
    {
      config: {
        listenHost: '127.0.0.1',
        listenPort: 0,
        powerActions: 'simulate',
        enableAutoTls: false,
        loadShippedManagers: false,
        discoverInstalledPlugins: false,
        hardwareManagerPaths: [FIXTURE_MANAGERS],
        logLevel: 'silent',
      },
      cmdlineFile,
      configFile,
      help: false,
    },
    { ipaConfigRoot: dir },
  );
  expect(config.agentToken).toBeUndefined();
  expect(config.standalone).toBe(false);

  const firstHeartbeat = conductor.nextHeartbeat();
  agent = await startAgent({ config, logger: { level: 'silent' } });
  expect(agent.serving).toBe(true);
  expect(conductor.lookups.map((l) => l.status)).toEqual([200]);
  const heartbeat = await firstHeartbeat;
  expect(heartbeat.status).toBe(202);
  expect(heartbeat.body.agent_token).toBe(node.token);
  expect((await new AgentTestClient(agent.url, node.token).list()).status).toBe(200);
  expect((await new AgentTestClient(agent.url, undefined).list()).status).toBe(401);
});
