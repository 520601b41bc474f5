// The agent's first answer comes sooner the less it loads first: the shipped bundle, built
// here, answers GET /v1/status without having loaded Node's modules for TLS, compression,
// crypto, assertions and the promise APIs its later work imports (the build makes those
// load on first use). Which of Node's modules a process loaded is process.moduleLoadList.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../interop/harness/free-port.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NOT_BEFORE_FIRST_ANSWER = [
  'assert',
  'crypto',
  'fs/promises',
  'http2',
  'https',
  'timers/promises',
  'tls',
  'zlib',
];

// Preloaded into the agent: what Node had loaded when the first request arrived.
const RECORDER = `
const http = require('node:http');
const { writeFileSync } = require('node:fs');
const emit = http.Server.prototype.emit;
let recorded = false;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request' && !recorded) {
    recorded = true;
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    writeFileSync(process.env.LOADED_OUT, builtins.join('\\n'));
  }
  return emit.call(this, event, ...args);
};
`;

async function firstAnswer(port: number, deadline: number): Promise<number> {
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v1/status`);
      await response.arrayBuffer();
      return response.status;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('the bundled agent at start-up', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'start-up-loads-'));
    await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build.mjs'), '--out', join(dir, 'dist')], {
      cwd: root,
    });
    writeFileSync(join(dir, 'recorder.cjs'), RECORDER);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers its first request before loading Node's modules for later work", async () => {
    const port = await freePort();
    const loadedOut = join(dir, 'loaded.txt');
    const agent = spawn(
      process.execPath,
      [
        '--require',
        join(dir, 'recorder.cjs'),
        join(dir, 'dist', 'ramdisk-agent.mjs'),
        'agent',
        '--standalone',
        '--listen',
        `127.0.0.1:${port}`,
        '--log-level',
        'warn',
        '--cmdline',
        '/dev/null',
      ],
      { stdio: 'ignore', env: { ...process.env, LOADED_OUT: loadedOut } },
    );
    try {
      expect(await firstAnswer(port, Date.now() + 30_000)).toBe(200);
      const loaded = new Set(readFileSync(loadedOut, 'utf8').split('\n'));
      expect(loaded.has('http')).toBe(true); // the recorder saw a real start-up
      expect(NOT_BEFORE_FIRST_ANSWER.filter((name) => loaded.has(name))).toEqual([]);
    } finally {
      agent.kill('SIGKILL');
    }
  }, 60_000);
});
