/** Shared by the burn-in tests: an agent with only the burn-in manager, steps run as Ironic runs them. */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';

const BURNIN_MANAGER = join(import.meta.dirname, '..', '..', '..', 'hardware-managers', 'burnin');

export async function startBurninAgent(
  allowDevices: string[] = [],
  options: { logLevel?: string } = {},
): Promise<{ agent: RunningAgent; client: AgentTestClient }> {
  const agent = await startTestAgent(
    { allowDevices, loadShippedManagers: false, hardwareManagerPaths: [BURNIN_MANAGER] },
    options,
  );
  // Paired steps start on two agents at once: both have their managers loaded first, so
  // neither side's step waits for a load the other does not (a standalone agent loads them
  // after its first answer).
  await agent.ready;
  return { agent, client: new AgentTestClient(agent.url) };
}

const NODE_UUID = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123';

export async function startStep(
  client: AgentTestClient,
  step: string,
  args: Record<string, unknown> = {},
  driverInfo: Record<string, unknown> = {},
): Promise<string> {
  const posted = await client.post('clean.execute_clean_step', {
    step: { step, interface: 'deploy', priority: 0, args },
    node: { uuid: NODE_UUID, properties: {}, instance_info: {}, driver_info: driverInfo, driver_internal_info: {} },
    ports: [],
  });
  if (posted.status !== 200) throw new Error(`POST answered ${posted.status}: ${JSON.stringify(posted.body)}`);
  return posted.body.id as string;
}

export async function runStep(
  client: AgentTestClient,
  step: string,
  args: Record<string, unknown> = {},
  driverInfo: Record<string, unknown> = {},
): Promise<{ final: any; snapshots: any[] }> {
  const id = await startStep(client, step, args, driverInfo);
  const snapshots: any[] = [];
  const final = await client.waitFor(id, (body) => {
    if (body.command_status === 'RUNNING' && body.command_progress) snapshots.push(body.command_progress);
  });
  return { final, snapshots };
}

/** Processes descended from this test process whose command name is one of `names`. */
export function descendants(names: string[]): { pid: number; comm: string }[] {
  const parents = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), { ppid, comm });
    } catch {
      // exited meanwhile
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parents.get(pid)?.ppid, hops = 0; p !== undefined && hops < 64; p = parents.get(p)?.ppid, hops++) {
      if (p === process.pid) return true;
    }
    return false;
  };
  return [...parents]
    .filter(([pid, info]) => names.some((n) => info.comm.startsWith(n)) && isOurs(pid))
    .map(([pid, info]) => ({ pid, comm: info.comm }));
}

export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

/** A TCP port free right now on 127.0.0.1 (fio needs a number, not port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
