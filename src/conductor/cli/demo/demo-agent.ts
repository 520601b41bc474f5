/**
 * The demo's "machine": the agent started as a process on this computer, allowed to touch
 * only the scratch disks, with simulated power actions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoSession } from './demo-session.js';
import type { ScratchDisk } from './scratch-disks.js';

function startAgentProcess(options: { conductorUrl: string; disks: ScratchDisk[]; dir: string }): ChildProcess {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which script to start the agent with');
  const cmdline = join(options.dir, 'kernel-cmdline');
  writeFileSync(cmdline, '\n');
  const log = openSync(join(options.dir, 'agent.log'), 'a');
  const args = [
    ...process.execArgv,
    script,
    'agent',
    '--api-url',
    options.conductorUrl,
    '--listen',
    '127.0.0.1:0',
    '--advertise-host',
    '127.0.0.1',
    '--power-actions',
    'simulate',
    '--cmdline',
    cmdline,
    '--log-level',
    'info',
    ...options.disks.flatMap((d) => ['--allow-device', d.path]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], detached: false });
  closeSync(log);
  return child;
}

async function stopAgentProcess(agent: ChildProcess): Promise<void> {
  if (agent.exitCode !== null || agent.signalCode !== null) return;
  agent.kill('SIGTERM');
  await new Promise((resolve) => {
    const timer = setTimeout(() => {
      agent.kill('SIGKILL');
      resolve(undefined);
    }, 5000);
    agent.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/**
 * Starts the agent and waits until it has looked its node up and heartbeated, which is when
 * the conductor records its URL. Returns that URL.
 */
export async function bootDemoAgent(
  session: DemoSession,
  options: { conductorUrl: string; disks: ScratchDisk[]; agentUrlOf: () => unknown },
): Promise<string> {
  const agent = startAgentProcess({ conductorUrl: options.conductorUrl, disks: options.disks, dir: session.dir });
  session.cleanup.add(`the agent (pid ${agent.pid})`, () => stopAgentProcess(agent));
  session.say(
    `   pid ${agent.pid}; it may write only ${options.disks.map((d) => d.path).join(' and ')}; power actions are simulated`,
  );
  while (!options.agentUrlOf()) {
    if (agent.exitCode !== null)
      throw new Error(`the agent exited (code ${agent.exitCode}); see ${join(session.dir, 'agent.log')}`);
    await session.sleep(100);
  }
  return String(options.agentUrlOf());
}
