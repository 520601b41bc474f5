/**
 * A `wait=true` poll on a command that runs for hours (an erase, a burn-in) never holds the
 * agent: closing the API answers it at once with the result as it stands, and a poll whose
 * client went away stops waiting. Over real HTTP on 127.0.0.1.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandRunner } from '../../src/agent/command-runner.js';
import { defineCommand, defineExtension } from '../../src/agent/command.js';
import { registerAgentRoutes } from '../../src/agent/http/routes.js';
import { createHttpServer, type AgentHttpServer } from '../../src/agent/http/server.js';
import { TokenGate } from '../../src/agent/http/token-gate.js';
import type { AgentServices } from '../../src/agent/services.js';
import { silentLogger } from '../../src/shared/logger.js';

let finishCommand: () => void = () => undefined;
let app: AgentHttpServer | undefined;

afterEach(async () => {
  finishCommand();
  await app?.close();
  app = undefined;
});

/** An API whose one command runs until the test lets it finish. */
async function serveLongCommand(): Promise<{ port: number; runner: CommandRunner }> {
  const running = new Promise<void>((resolve) => (finishCommand = resolve));
  const ext = defineExtension('clean', [
    defineCommand({
      name: 'execute_clean_step',
      mode: 'async',
      params: z.looseObject({}),
      run: async () => {
        await running;
        return { clean_result: null };
      },
    }),
  ]);
  const runner = new CommandRunner([ext], { log: silentLogger } as unknown as AgentServices);
  app = createHttpServer();
  registerAgentRoutes(app, { runner, tokenGate: new TokenGate({ required: false }), version: '0', startedAt: () => 0 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, runner };
}

function post(port: number, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('long polls', () => {
  it('closing the API answers a waiting poll with the running result instead of waiting for the command', async () => {
    const { port } = await serveLongCommand();
    const poll = post(port, '/v1/commands/?wait=true', { name: 'clean.execute_clean_step', params: {} });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await app!.close();
    const answer = await poll;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ command_name: 'execute_clean_step', command_status: 'RUNNING' });
  }, 5_000);

  it('a client leaving its poll changes nothing for the poll that stayed: it gets the finished result', async () => {
    const { port, runner } = await serveLongCommand();
    const command = await runner.execute('clean.execute_clean_step', {});
    const path = `/v1/commands/${command.id}?wait=true`;
    const leaving = request({ host: '127.0.0.1', port, path });
    leaving.on('error', () => undefined);
    leaving.end();
    const staying = new Promise<Record<string, unknown>>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      })
        .on('error', reject)
        .end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    leaving.destroy();
    // The server sees the client go: its connection count drops to the one poll that stayed.
    await expect
      .poll(() => new Promise<number>((resolve) => app!.server.getConnections((_e, count) => resolve(count))), { timeout: 2_000 })
      .toBe(1);
    finishCommand();
    expect(await staying).toMatchObject({ command_status: 'SUCCEEDED', command_result: { clean_result: null } });
  });
});
