/**
 * AgentClient when the network between conductor and agent misbehaves, against a real agent
 * behind a proxy that injects the fault: the agent runs the command but its answer is lost on
 * the way back (Ironic then reads the command list, and for a polled command waits for it to
 * end), and something that is not the agent answers with an HTML page (the error that becomes
 * `last_error` must not carry the agent token or the step's secrets).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../src/agent/agent.js';
import { AgentClient } from '../../src/conductor/agent-client.js';
import { makeConf } from '../../src/conductor/conf.js';
import { IronicException } from '../../src/conductor/errors.js';
import type { NodeData } from '../../src/conductor/node.js';
import { SqliteNodeStore } from '../../src/conductor/store/sqlite-store.js';
import { startTestAgent } from '../helpers/agent.js';
import { CONDUCTOR_FIXTURES } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef0123456789';
type Fault = 'none' | 'lose-post-response' | 'html-page';

let agent: RunningAgent;
let proxy: Server;
let proxyUrl: string;
let fault: Fault = 'none';
const store = new SqliteNodeStore(':memory:');

async function forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const isPost = request.method === 'POST';
  if (isPost && fault === 'html-page') {
    fault = 'none';
    response.writeHead(502, { 'Content-Type': 'text/html' });
    response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    return;
  }
  const upstream = await fetch(`${agent.url}${request.url}`, {
    method: request.method!,
    headers: { 'Content-Type': 'application/json' },
    ...(isPost ? { body: Buffer.concat(chunks) } : {}),
  });
  const body = await upstream.text();
  if (isPost && fault === 'lose-post-response') {
    // The agent got the command and answered; the answer never reaches the conductor.
    fault = 'none';
    request.socket.destroy();
    return;
  }
  response.writeHead(upstream.status, { 'Content-Type': 'application/json' });
  response.end(body);
}

beforeAll(async () => {
  agent = await startTestAgent({
    loadShippedManagers: false,
    hardwareManagerPaths: [CONDUCTOR_FIXTURES],
    powerActions: 'simulate',
  });
  proxy = createServer((request, response) => {
    forward(request, response).catch(() => request.socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});

afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await agent.close();
  store.close();
});

function nodeBehindProxy(): NodeData {
  const node = store.createNode({});
  node.driverInternalInfo.agent_url = proxyUrl;
  node.driverInternalInfo.agent_secret_token = TOKEN;
  return node;
}

function client(): AgentClient {
  return new AgentClient({ ...makeConf().agent, commandTimeout: 5, commandWaitInterval: 0.05 });
}

async function waitIdle(node: NodeData): Promise<void> {
  for (;;) {
    const commands = await client().getCommandsStatus(node);
    if (commands.every((c) => c.command_status !== 'RUNNING')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('AgentClient with faults between it and a real agent', () => {
  it('waits for a polled command whose POST answer was lost, instead of taking RUNNING for its end', async () => {
    const node = nodeBehindProxy();
    await waitIdle(node);
    fault = 'lose-post-response';
    // `poll` is how image.install_bootloader is sent: the conductor powers the ramdisk off right
    // after it, so returning while the command still runs would cut the bootloader install.
    const result = await client().command(
      node,
      'clean.execute_clean_step',
      {
        step: { step: 'fixture_slow', interface: 'deploy', priority: 0, args: { seconds: 0.6 } },
        node: {},
        ports: [],
        clean_version: null,
      },
      { poll: true },
    );
    expect(fault).toBe('none');
    expect(result.command_status).toBe('SUCCEEDED');
    expect(result.command_result).toMatchObject({ clean_result: { slept_ms: 600 } });
  });

  it('still hands back the running command of an async (not polled) command whose answer was lost', async () => {
    const node = nodeBehindProxy();
    await waitIdle(node);
    fault = 'lose-post-response';
    const result = await client().command(node, 'clean.execute_clean_step', {
      step: { step: 'fixture_slow', interface: 'deploy', priority: 0, args: { seconds: 0.3 } },
      node: {},
      ports: [],
      clean_version: null,
    });
    expect(fault).toBe('none');
    expect(result.command_name).toBe('execute_clean_step');
    expect(result.command_status).toBe('RUNNING');
    await waitIdle(node);
  });

  it('keeps the agent token and secret step arguments out of the "not JSON" error', async () => {
    const node = nodeBehindProxy();
    await waitIdle(node);
    fault = 'html-page';
    const error = await client()
      .executeCleanStep(
        {
          step: 'fixture_needs_size',
          interface: 'deploy',
          priority: 0,
          args: { size: 1, bmc_password: 'hunter2-secret' },
        },
        node,
        [],
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IronicException);
    const message = (error as Error).message;
    expect(message).toMatch(/^Unable to decode response as JSON\.\nRequest URL: /);
    expect(message).toContain('Response status code: 502');
    expect(message).toContain('502 Bad Gateway');
    expect(message).toContain('clean.execute_clean_step');
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain('hunter2-secret');
  });
});
