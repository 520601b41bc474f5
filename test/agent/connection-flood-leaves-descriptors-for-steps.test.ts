/**
 * A stranger on the provisioning network who opens hundreds of idle connections does not
 * take the descriptors the agent's steps need: the real agent, under an open-file limit of
 * 256 (the ramdisk's is 4096), holds at most half of it in connections, closes the rest as
 * they arrive and says so, and once the flood is gone runs a command that starts a process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionLimit } from '../../src/agent/http/connection-limit.js';
import { freePort } from '../interop/harness/free-port.js';
import { REPO, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';

const OPEN_FILES = 256;
const havePrlimit = spawnSync('prlimit', ['--version']).status === 0;

let agent: ChildProcess | undefined;
let dir: string | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGKILL');
    await new Promise((resolve) => agent!.once('exit', resolve));
  }
  agent = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function post(port: number, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/commands/?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('a flood of idle connections', () => {
  it.runIf(havePrlimit)(
    'leaves the agent descriptors for its own work, and is logged',
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-flood-'));
      const port = await freePort();
      // prlimit execs the agent: the pid is the agent's.
      agent = spawn(
        'prlimit',
        [`--nofile=${OPEN_FILES}:${OPEN_FILES}`, process.execPath, ...standaloneAgentArgs({ dir, port, logLevel: 'info' })],
        { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      agent.stdout!.on('data', (chunk: Buffer) => (output += String(chunk)));
      for (let tries = 0; ; tries++) {
        const up = await fetch(`http://127.0.0.1:${port}/v1/status`).then(
          (r) => r.ok,
          () => false,
        );
        if (up) break;
        if (tries > 300) throw new Error(`the agent did not start:\n${output}`);
        await sleep(50);
      }

      let closedByAgent = 0;
      for (let i = 0; i < 400; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => closedByAgent++);
        sockets.push(socket);
      }
      await sleep(1500);
      const descriptors = readdirSync(`/proc/${agent.pid}/fd`).length;
      expect(closedByAgent).toBeGreaterThanOrEqual(400 - OPEN_FILES / 2);
      // At most 128 connections and the agent's own files: room left below the limit.
      expect(descriptors).toBeLessThan(OPEN_FILES - 64);
      expect(output).toMatch(/connections closed on arrival: the API already holds as many as it serves at once/);

      for (const socket of sockets.splice(0)) socket.destroy();
      await sleep(300);
      // standby.sync runs the `sync` program.
      const { status, json } = await post(port, { name: 'standby.sync', params: {} });
      expect(status).toBe(200);
      expect(json.command_status).toBe('SUCCEEDED');
    },
    30_000,
  );
});

describe('the connection limit', () => {
  it('is half the open-file limit, between 16 and 1024', () => {
    const limits = mkdtempSync(join(tmpdir(), 'ramdisk-agent-limits-'));
    try {
      const withOpenFiles = (soft: string) => {
        const file = join(limits, soft);
        writeFileSync(
          file,
          'Limit                     Soft Limit           Hard Limit           Units     \n' +
            `Max open files            ${soft}                 4096                 files     \n`,
        );
        return connectionLimit(file);
      };
      expect(withOpenFiles('4096')).toBe(1024);
      expect(withOpenFiles('1024')).toBe(512);
      expect(withOpenFiles('20')).toBe(16);
      expect(withOpenFiles('unlimited')).toBe(1024);
      expect(connectionLimit(join(limits, 'missing'))).toBe(1024);
    } finally {
      rmSync(limits, { recursive: true, force: true });
    }
  });
});
