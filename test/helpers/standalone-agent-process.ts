/**
 * The command line of a real standalone agent process run from this tree's sources (tsx), for
 * tests that need the agent in a process of its own (a kill, a resource limit, a fuzzer, a
 * process that must stay up). Hermetic: no kernel parameters and no
 * /etc/ramdisk-agent/agent.json of this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO = join(import.meta.dirname, '..', '..');

export function standaloneAgentArgs(options: {
  dir: string;
  port: number;
  logLevel: string;
  extra?: readonly string[];
  /** The agent's config file (snake_case keys), e.g. `simulated_host_root`; empty by default. */
  config?: Record<string, unknown>;
  /** False: a conductor-linked agent (give `--api-url` in `extra`). Standalone by default. */
  standalone?: boolean;
}): string[] {
  writeFileSync(join(options.dir, 'cmdline'), '');
  writeFileSync(join(options.dir, 'agent.json'), JSON.stringify(options.config ?? {}));
  return [
    '--import',
    'tsx',
    join(REPO, 'src', 'cli.ts'),
    'agent',
    ...(options.standalone === false ? [] : ['--standalone']),
    ...(options.extra ?? []),
    '--listen',
    `127.0.0.1:${options.port}`,
    '--power-actions',
    'simulate',
    '--cmdline',
    join(options.dir, 'cmdline'),
    '--config',
    join(options.dir, 'agent.json'),
    '--log-level',
    options.logLevel,
  ];
}

/** A spawned agent process, answering on `url`; `output()` is its stdout and stderr so far. */
export interface AgentProcess {
  child: ChildProcess;
  url: string;
  output(): string;
}

/** Spawns `node <args>` (from standaloneAgentArgs) and resolves once GET /v1/status answers 200. */
export async function spawnAgentProcess(args: string[], port: number): Promise<AgentProcess> {
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += String(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => (output += String(chunk)));
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    const up = await fetch(`${url}/v1/status`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, url, output: () => output };
    if (child.exitCode !== null || tries > 300) {
      child.kill('SIGKILL');
      throw new Error(`the agent did not start: ${output}`);
    }
    await sleep(100);
  }
}
