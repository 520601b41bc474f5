// burnin_network's reader against a partner that starts listening in the middle of the
// reader's attempt: some of fio's 16 ports pair, the others are refused (a half pairing).
// The partner is IPA: the test runs IPA's own fio commands (burnin.py _do_fio_network) with
// real fio over 127.0.0.1. Its writer's 16 listeners come up in two fio runs of 8, the second
// once the reader has connected to the first, which is what a writer whose listeners bind
// one after another does to a reader connecting meanwhile, slowed down to happen every time.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import {
  connectedPorts,
  FIO_NETWORK_JOBS,
  freeFioPorts,
  listeningPorts,
  startBurninAgent,
  startStep,
  waitUntil,
} from './helpers.js';

const agents: RunningAgent[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

/** IPA's fio command for a role (burnin.py), on `jobs` ports from `port`. */
function ipaFio(role: 'writer' | 'reader', port: number, jobs: number, runtime: number): ChildProcess {
  // prettier-ignore
  const args = ['--ioengine', 'net', '--port', String(port), '--fill_device', '1', '--group_reporting',
    '--gtod_reduce', '1', '--numjobs', String(jobs)];
  if (role === 'writer') args.push('--name', 'writer', '--rw', 'write', '--runtime', String(runtime), '--time_based', '--listen');
  else args.push('--name', 'reader', '--rw', 'read', '--hostname', '127.0.0.1');
  const child = spawn('fio', args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** fio's exit code (the number of jobs that failed), or a timeout. */
function exitCode(child: ChildProcess, timeoutMs: number, what: string): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function until(predicate: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await predicate()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

describe('burnin_network with a partner that comes up during the reader’s attempt', () => {
  it('pairs all 16 ports at once and passes, and the IPA partner pairs too', async () => {
    // Long enough that the follow-up run pairs the last 8 ports while the first 8 still run,
    // also when fio is slow to start under load (8 s failed once under make test).
    const runtime = 15;
    const half = FIO_NETWORK_JOBS / 2;
    const port = await freeFioPorts();
    const { agent, client } = await startBurninAgent();
    agents.push(agent);
    const id = await startStep(client, 'burnin_network', {
      agent_burnin_fio_network_config: { role: 'reader', partner: '127.0.0.1' },
      agent_burnin_fio_network_runtime: runtime,
      agent_burnin_fio_network_port: port,
    });
    const progress = async () => (await client.get(id)).body.command_progress?.parts?.['reader (partner 127.0.0.1)'];
    await until(async () => ((await progress())?.refused_attempts ?? 0) >= 1, 30_000, 'a refused attempt');

    // The partner's writer: its first 8 listeners, then, once the reader's attempt has
    // connected to them (and been refused on the other 8), the last 8.
    const first = ipaFio('writer', port, half, runtime);
    await waitUntil(() => listeningPorts(port, half) === half, 10_000, 'the first 8 listeners');
    await waitUntil(() => connectedPorts(port, half) === half, 20_000, 'the reader on the first 8 ports');
    expect(listeningPorts(port + half, half)).toBe(0);
    const second = ipaFio('writer', port + half, half, runtime);
    // The other 8 ports pair while the first 8 still run: all 16 streams at once, not the
    // last 8 after the first (which doubled the direction and then left both sides waiting).
    await waitUntil(() => connectedPorts(port + half, half) === half, runtime * 1000, 'the reader on the last 8 ports');
    expect(first.exitCode, 'the first 8 ports had finished before the last 8 paired').toBeNull();
    // Every job of IPA's writer was served: fio's exit code counts the jobs that failed.
    expect(await exitCode(first, 30_000, "the writer's first 8 jobs")).toBe(0);
    expect(await exitCode(second, 30_000, "the writer's last 8 jobs")).toBe(0);

    // IPA's second direction: it reads from this agent's writer, retrying while it finds no
    // listener (exit code 16), as burnin.py does every 30 s (here every second).
    await waitUntil(() => listeningPorts(port, FIO_NETWORK_JOBS) === FIO_NETWORK_JOBS, 30_000, "this agent's listeners");
    const reader = ipaFio('reader', port, FIO_NETWORK_JOBS, runtime);
    expect(await exitCode(reader, 60_000, "IPA's reader")).toBe(0);

    const final = await client.waitFor(id, undefined, 30_000);
    expect(final.command_status, JSON.stringify(final.command_error)).toBe('SUCCEEDED');
    const [read, write] = final.command_result.clean_result.parts;
    expect(read).toMatchObject({ role: 'reader', passed: true, ports_paired: 16, paired_attempts: 2, errors: 0 });
    expect(read.mib_per_second).toBeGreaterThan(0);
    expect(write).toMatchObject({ role: 'writer', passed: true, errors: 0 });
    // The reader's follow-up run connected only the ports that were refused.
    const commands: string[] = final.command_result.clean_result.commands;
    expect(commands.filter((c) => c.includes('--rw read'))).toHaveLength(2);
    expect(commands[1]).toContain(`--name reader-${port + half} --port ${port + half}`);
    expect(commands[1]).not.toContain(`--port ${port} `);
  }, 150_000);
});
