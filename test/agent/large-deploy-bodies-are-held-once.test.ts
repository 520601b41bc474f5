/**
 * A deploy with a large config drive: Ironic sends the config drive three times in the
 * write_image body. The agent reads the body without holding it as bytes, text and parsed
 * values at once, and the three copies become one: on a node with little RAM the body no
 * longer takes four times its size. Whatever the body, the parsed value and the error for a
 * malformed one are JSON.parse's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parseJsonBytes } from '../../src/agent/http/large-json.js';
import { freePort } from '../interop/harness/free-port.js';
import { REPO, standaloneAgentArgs } from '../helpers/standalone-agent-process.js';

const MiB = 1024 * 1024;
const base64 = (bytes: number, seed = 'H4sI') => (seed + 'QUJDRA=='.repeat(bytes / 8)).slice(0, bytes);

function parsedAsJsonParse(text: string): void {
  const bytes = Buffer.from(text);
  let expected: unknown;
  let expectedError: string | undefined;
  try {
    expected = JSON.parse(text);
  } catch (error) {
    expectedError = (error as Error).message;
  }
  if (expectedError !== undefined) {
    expect(() => parseJsonBytes(bytes)).toThrow(expectedError);
  } else {
    expect(parseJsonBytes(bytes)).toStrictEqual(expected);
  }
}

describe('a large body is parsed as JSON.parse parses it', () => {
  const drive = base64(2 * MiB);
  const other = base64(2 * MiB, 'AAAA');

  it('gives the same value with big strings as values, repeated, nested and in arrays', () => {
    parsedAsJsonParse(
      JSON.stringify({
        name: 'deploy.execute_deploy_step',
        params: {
          step: { step: 'write_image', args: { configdrive: drive, image_info: { configdrive: drive, id: 'x' } } },
          node: { instance_info: { configdrive: drive, other }, list: [other, 1, 'a', null, true, { k: drive }] },
          unicode: 'é日本',
        },
      }),
    );
    parsedAsJsonParse(`  \n[ "${drive}" ,\t"${other}"\r\n, "${drive}"]  `);
    parsedAsJsonParse(JSON.stringify(drive));
  });

  it('leaves escapes, non-ASCII text and big keys to JSON.parse', () => {
    parsedAsJsonParse(JSON.stringify({ escaped: `${drive}"quoted"\\back\nline`, unicode: '日本'.repeat(MiB / 2) }));
    parsedAsJsonParse(`{"${drive}": 1, "b": "${drive}"}`);
    parsedAsJsonParse(`{"${drive}"  :\n "${other}"}`);
    parsedAsJsonParse(`{"a": "${drive}\\\\", "b": "x\\"${other}"}`);
  });

  it("refuses malformed bodies with JSON.parse's message", () => {
    parsedAsJsonParse(`{"a": "${drive}", "b": }`);
    parsedAsJsonParse(`{"a": "${drive}"`);
    parsedAsJsonParse(`{"a": "${drive}`);
    parsedAsJsonParse(`{"a": "${drive.slice(0, MiB)}\u0001${drive.slice(MiB)}"}`);
    parsedAsJsonParse(`{"a": "${drive}"} trailing`);
  });
});

describe("Ironic's write_image body with a config drive, to a real agent", () => {
  let agent: ChildProcess | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGKILL');
      await new Promise((resolve) => agent!.once('exit', resolve));
    }
    agent = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('is answered, and the agent peaks at well under three times the body, not four and more', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-large-body-'));
    const port = await freePort();
    agent = spawn(process.execPath, standaloneAgentArgs({ dir, port, logLevel: 'warn' }), { cwd: REPO, stdio: 'ignore' });
    for (
      let tries = 0;
      !(await fetch(`http://127.0.0.1:${port}/v1/status`).then(
        (r) => r.ok,
        () => false,
      ));
      tries++
    ) {
      if (tries > 300) throw new Error('the agent did not start');
      await sleep(50);
    }
    const peakMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${agent!.pid}/status`, 'utf8'))![1]) / 1024;
    const before = peakMiB();

    const configdrive = base64(24 * MiB);
    const node = {
      uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
      properties: {},
      instance_info: { configdrive },
      driver_internal_info: {},
    };
    const body = Buffer.from(
      JSON.stringify({
        name: 'clean.get_clean_steps',
        params: { node, ports: [], configdrive, image_info: { id: 'image', configdrive } },
      }),
    );
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/commands/?wait=true',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    const grownMiB = peakMiB() - before;
    const bodyMiB = body.length / MiB;
    // Measured alone: +334 MiB for a 240 MiB body (three 80 MiB drives), +959 before; for this
    // 72 MiB body +308 before. Socket chunks already copied are freed only by a later GC, so
    // under a loaded test run the peak carries some of them: 148 MiB seen there.
    expect(grownMiB).toBeLessThan(2.5 * bodyMiB);
  });
});
