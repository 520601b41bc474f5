/**
 * AgentClient against a real agent on 127.0.0.1 (reference §6): URLs, `wait`, the token as
 * a query parameter, 409 → AgentInProgress, HTTP errors → AgentAPIError with the agent's
 * faultstring, polling, error extraction, connection retries and timeouts, and every method
 * of the catalogue reaching the agent.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentClient, getCommandError } from '../../src/conductor/agent-client.js';
import { makeConf } from '../../src/conductor/conf.js';
import { AgentAPIError, AgentConnectionFailed, AgentInProgress } from '../../src/conductor/errors.js';
import type { NodeData } from '../../src/conductor/node.js';
import { SqliteNodeStore } from '../../src/conductor/store/sqlite-store.js';
import { startTestAgent } from '../helpers/agent.js';
import { CONDUCTOR_FIXTURES } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
let agent: RunningAgent;
const store = new SqliteNodeStore(':memory:');

function nodeFor(url: string, token: string | undefined = TOKEN): NodeData {
  const node = store.createNode({});
  node.driverInternalInfo.agent_url = url;
  if (token) node.driverInternalInfo.agent_secret_token = token;
  return node;
}

function client(overrides: Partial<ReturnType<typeof makeConf>['agent']> = {}): AgentClient {
  return new AgentClient({ ...makeConf().agent, commandWaitInterval: 0.05, ...overrides });
}

beforeAll(async () => {
  agent = await startTestAgent({
    loadShippedManagers: false,
    hardwareManagerPaths: [CONDUCTOR_FIXTURES],
    powerActions: 'simulate',
  });
});

afterAll(async () => {
  await agent.close();
  store.close();
});

async function waitIdle(node: NodeData): Promise<void> {
  for (;;) {
    const commands = await client().getCommandsStatus(node);
    if (commands.every((c) => c.command_status !== 'RUNNING')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('AgentClient against a real agent', () => {
  it('runs a synchronous command with wait=true and the token, and parses the steps', async () => {
    const node = nodeFor(agent.url);
    const result = await client().getCleanSteps(node, []);
    expect(result.command_name).toBe('get_clean_steps');
    expect(result.command_status).toBe('SUCCEEDED');
    const steps = result.command_result!.clean_steps.ConductorFixtureManager as Array<{ step: string }>;
    expect(steps.map((s) => s.step)).toContain('fixture_slow');
    expect(result.command_result!.hardware_manager_version).toMatchObject({ conductor_fixture: '1.0' });
  });

  it('turns an HTTP error into AgentAPIError carrying the agent’s faultstring (no token → 401)', async () => {
    const node = nodeFor(agent.url, 'x'.repeat(43));
    const error = await client()
      .getDeploySteps(node, [])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentAPIError);
    expect((error as Error).message).toMatch(/^Agent API for node [0-9a-f-]+ returned HTTP status code 401 with error: /);
  });

  it('answers 409 while a command runs → AgentInProgress with Ironic’s message; poll waits for the end', async () => {
    const node = nodeFor(agent.url);
    const started = await client().executeCleanStep(
      { step: 'fixture_slow', interface: 'deploy', priority: 0, args: { seconds: 1 } },
      node,
      [],
    );
    expect(started.command_status).toBe('RUNNING');
    const busy = await client()
      .getCleanSteps(node, [])
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(AgentInProgress);
    expect((busy as Error).message).toMatch(
      new RegExp(`^Node ${node.uuid} command "clean.get_clean_steps" failed. Agent is presently executing a command. Error `),
    );
    await waitIdle(node);
    // poll=True: POST, then read the last command of that name until it leaves RUNNING.
    const polled = await client().command(
      node,
      'clean.execute_clean_step',
      {
        step: { step: 'fixture_slow', interface: 'deploy', priority: 0, args: { seconds: 0.3 } },
        node: {},
        ports: [],
        clean_version: null,
      },
      { poll: true },
    );
    expect(polled.command_status).toBe('SUCCEEDED');
    expect(polled.command_result).toMatchObject({ clean_result: { slept_ms: 300 } });
  });

  it('extracts the error of a failed command the way Ironic writes last_error', async () => {
    const node = nodeFor(agent.url);
    await waitIdle(node);
    await client().executeCleanStep({ step: 'fixture_failing', interface: 'deploy', priority: 0 }, node, []);
    await waitIdle(node);
    const last = await client().getLastCommandStatus(node, 'clean.execute_clean_step');
    expect(last?.command_status).toBe('FAILED');
    expect(getCommandError(last!)).toContain('the fixture step failed on purpose');
    expect(getCommandError({ command_error: null })).toBe('Invalid agent response');
    expect(getCommandError({ command_error: 'plain text' })).toBe('plain text');
  });

  it('reaches the agent with every method of the catalogue', async () => {
    const node = nodeFor(agent.url);
    await waitIdle(node);
    const c = client();
    const partitions = await c.getPartitionUuids(node).catch((e: unknown) => e);
    // No image was written: the agent answers, with a result or an IPA error.
    expect(
      partitions instanceof AgentAPIError || (partitions as { command_name?: string }).command_name === 'get_partition_uuids',
    ).toBe(true);
    expect((await c.sync(node)).command_name).toBe('sync');
    const logs = await c.collectSystemLogs(node);
    expect(logs.command_status).toBe('SUCCEEDED');
    expect(typeof logs.command_result?.system_logs).toBe('string');
    await waitIdle(node);
    const bootloader = await c.installBootloader(node, { rootUuid: null, targetBootMode: 'bios' }).catch((e: unknown) => e);
    expect(
      bootloader instanceof AgentAPIError || (bootloader as { command_name?: string }).command_name === 'install_bootloader',
    ).toBe(true);
    await waitIdle(node);
    const names = (await c.getCommandsStatus(node)).map((cmd) => cmd.command_name);
    expect(names).toEqual(expect.arrayContaining(['get_clean_steps', 'execute_clean_step', 'sync', 'collect_system_logs']));

    // The last three end the agent's service (rescue, power off, reboot): one agent each.
    const rescue = await c.finalizeRescue(node, { hashedPassword: '$6$x$y' }).catch((e: unknown) => e);
    expect(rescue instanceof AgentAPIError || (rescue as { command_name?: string }).command_name === 'finalize_rescue').toBe(
      true,
    );
    for (const action of ['powerOff', 'reboot'] as const) {
      const other = await startTestAgent({
        loadShippedManagers: false,
        hardwareManagerPaths: [CONDUCTOR_FIXTURES],
        powerActions: 'simulate',
      });
      try {
        const result = await c[action](nodeFor(other.url));
        expect(result.command_name).toBe(action === 'powerOff' ? 'power_off' : 'run_image');
      } finally {
        await other.close();
      }
    }
  });
});

describe('AgentClient when the agent cannot be reached', () => {
  let server: Server;
  const requests: string[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Accepts connections and never answers: every request times out.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        const line = /^(GET|POST) \S+/m.exec(chunk.toString('latin1'));
        if (line) requests.push(line[0].replace(/\?.*$/, ''));
      });
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('times out each request after command_timeout and retries the command 3 times', async () => {
    const port = (server.address() as { port: number }).port;
    const node = nodeFor(`http://127.0.0.1:${port}`);
    requests.length = 0;
    const started = Date.now();
    const error = await client({ commandTimeout: 0.2 })
      .getCleanSteps(node, [])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentConnectionFailed);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Failed to connect to the agent running on node ${node.uuid} for invoking command clean.get_clean_steps. Error: `,
      ),
    );
    // 3 POST attempts, each followed by one GET /v1/commands/ checking whether it arrived.
    expect(requests).toEqual(Array(3).fill(['POST /v1/commands/', 'GET /v1/commands/']).flat());
    expect(Date.now() - started).toBeGreaterThanOrEqual(6 * 200 - 50);
  });

  it('reports a refused connection on the status read as Ironic does', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as { port: number }).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const node = nodeFor(`http://127.0.0.1:${port}`);
    const error = await client()
      .getCommandsStatus(node)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentConnectionFailed);
    expect((error as Error).message).toMatch(
      new RegExp(`^Failed to connect to the agent running on node ${node.uuid} to collect commands status. Error: `),
    );
  });

  it('requires agent_url', async () => {
    const node = nodeFor('');
    delete node.driverInternalInfo.agent_url;
    await expect(client().getCleanSteps(node, [])).rejects.toThrow('Agent driver requires agent_url in driver_internal_info');
  });
});
