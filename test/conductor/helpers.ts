/**
 * A real conductor (SQLite store, HTTP API on 127.0.0.1, free port) and real agents linked
 * to it (lookup + heartbeats over HTTP), for the conductor's integration tests.
 */
import type { Logger } from '../../src/shared/logger.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAgent } from '../../src/agent/agent.js';
import { Conductor } from '../../src/conductor/conductor.js';
import type { ConductorConfInput } from '../../src/conductor/conf.js';
import { buildConductorApi } from '../../src/conductor/api/server.js';
import type { InterfaceRegistry } from '../../src/conductor/drivers/registry.js';
import type { NodeData } from '../../src/conductor/node.js';
import type { ProvisionState } from '../../src/conductor/states.js';
import { SqliteNodeStore } from '../../src/conductor/store/sqlite-store.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { startTestAgent } from '../helpers/agent.js';

export const CONDUCTOR_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'conductor-hardware-managers');
export const OUT_OF_RANGE_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'conductor-hardware-managers-out-of-range');

/** Fast timings so a whole clean or deploy takes a second or two. */
export const FAST_CONF: ConductorConfInput = {
  host: 'test-conductor',
  api: { ramdiskHeartbeatTimeout: 1 },
  agent: {
    commandTimeout: 10,
    commandWaitInterval: 0.1,
    postDeployGetPowerStateRetries: 1,
    postDeployGetPowerStateRetryInterval: 0.05,
  },
  conductor: { nodeLockedRetryInterval: 0.05 },
  deploy: { defaultBootMode: 'bios' },
};

const write = (level: string) => (a: unknown, b?: string) =>
  console.log(level, typeof a === 'string' ? a : `${b ?? ''} ${JSON.stringify(a)}`);
const consoleLogger: Logger = {
  debug: write('debug'),
  info: write('info'),
  warn: write('warn'),
  error: write('error'),
  child: () => consoleLogger,
};

export interface RunningConductor {
  conductor: Conductor;
  url: string;
  close(): Promise<void>;
}

/** `port` 0 (the default) picks a free one; a restart passes the port of the conductor it replaces. */
export async function startConductor(
  options: { dbPath?: string; port?: number; conf?: ConductorConfInput; interfaces?: InterfaceRegistry } = {},
): Promise<RunningConductor> {
  const store = new SqliteNodeStore(options.dbPath ?? ':memory:');
  const certificates = mkdtempSync(join(tmpdir(), 'conductor-certs-'));
  const conf = { ...FAST_CONF, ...options.conf };
  const conductor = new Conductor({
    store,
    conf: { ...conf, agent: { ...conf.agent, certificatesPath: certificates } },
    ...(options.interfaces ? { interfaces: options.interfaces } : {}),
    // TEST_CONDUCTOR_LOG=1 prints the conductor's log while debugging a test.
    ...(process.env.TEST_CONDUCTOR_LOG ? { log: consoleLogger } : {}),
  });
  const app = buildConductorApi({ conductor });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  conductor.conf.api.publicUrl = url;
  await conductor.start();
  return {
    conductor,
    url,
    async close() {
      await conductor.stop();
      await app.close();
      store.close();
      rmSync(certificates, { recursive: true, force: true });
    },
  };
}

let macsCache: string[] | undefined;
export async function hostMacs(): Promise<string[]> {
  macsCache ??= (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
  return macsCache;
}

/** A real agent that looks itself up at `conductorUrl` and heartbeats there. */
export async function startLinkedAgent(
  conductorUrl: string,
  overrides: Parameters<typeof startTestAgent>[0] = {},
): Promise<RunningAgent> {
  return startTestAgent({
    standalone: false,
    agentToken: undefined,
    apiUrls: [conductorUrl],
    lookupInterval: 0.05,
    lookupTimeout: 30,
    enableAutoTls: false,
    powerActions: 'simulate',
    loadShippedManagers: false,
    hardwareManagerPaths: [CONDUCTOR_FIXTURES],
    ...overrides,
  });
}

/** Enroll a node whose ports are this machine's MACs, so a linked agent finds it. */
export async function enrollHostNode(conductor: Conductor, init: Parameters<Conductor['createNode']>[0] = {}): Promise<NodeData> {
  return conductor.createNode({ interfaces: { deploy: 'custom-agent' }, ports: await hostMacs(), ...init });
}

export async function waitForState(
  conductor: Conductor,
  uuid: string,
  wanted: ProvisionState | ProvisionState[],
  timeoutMs = 30_000,
): Promise<NodeData> {
  const accepted = Array.isArray(wanted) ? wanted : [wanted];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const node = conductor.store.getNode(uuid);
    if (accepted.includes(node.provisionState)) return node;
    if (Date.now() > deadline) {
      throw new Error(
        `node ${uuid} is "${node.provisionState}" (last_error: ${node.lastError}); wanted ${accepted.join(' or ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
