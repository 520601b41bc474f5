/** Shared by the burn-in tests: an agent with only the burn-in manager, steps run as Ironic runs them. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
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

/** fio's network job count (IPA's --numjobs 16): fio gives job n the port `port + n`. */
export const FIO_NETWORK_JOBS = 16;

/**
 * The first of 16 consecutive TCP ports that are all free now, for fio's 16 jobs, outside
 * the kernel's ephemeral range (as IPA's 9000-9015 are). A port from listen(0) is free only
 * itself, and its neighbours are where the machine's outgoing connections take their source
 * ports: a client connection's TIME_WAIT on one of them failed the writer's bind ("io engine
 * net init failed") in a loaded `make test`. Outside that range only an explicit bind takes a
 * port; the block is random, so test runs in parallel do not pick the same one.
 */
export async function freeFioPorts(): Promise<number> {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [
    number,
    number,
  ];
  // Below the ephemeral range (above the well-known services), else above it.
  const [from, to] = low - 10_000 > 1_000 ? [10_000, low - FIO_NETWORK_JOBS] : [high + 1, 65_536 - FIO_NETWORK_JOBS];
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomInt(from, to);
    if (await allFree(base, FIO_NETWORK_JOBS)) return base;
  }
  throw new Error(`no ${FIO_NETWORK_JOBS} consecutive free ports between ${from} and ${to}`);
}

/** True when every port of base .. base+count-1 can be bound on all addresses, as fio binds them. */
async function allFree(base: number, count: number): Promise<boolean> {
  const servers = Array.from({ length: count }, () => createServer());
  const bound = await Promise.all(
    servers.map(
      (server, n) =>
        new Promise<boolean>((resolve) => {
          server.once('error', () => resolve(false));
          server.listen(base + n, '0.0.0.0', () => resolve(true));
        }),
    ),
  );
  await Promise.all(servers.filter((_, n) => bound[n]).map((server) => new Promise((resolve) => server.close(resolve))));
  return bound.every(Boolean);
}

/** Local TCP sockets on the ports base .. base+count-1, in state `state` (hex, as /proc/net/tcp writes it). */
function portsInState(base: number, count: number, state: string): number {
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (existsSync(table) ? readFileSync(table, 'utf8') : '').split('\n')) {
      // local_address is "ADDR:PORT" (hex); st is the state.
      const fields = line.trim().split(/\s+/);
      const port = parseInt(fields[1]?.split(':').pop() ?? '', 16);
      if (fields[3] === state && port >= base && port < base + count) ports.add(port);
    }
  }
  return ports.size;
}

/** How many of the ports base .. base+count-1 have a listening socket. */
export const listeningPorts = (base: number, count: number) => portsInState(base, count, '0A');

/** How many of the ports base .. base+count-1 have an established connection accepted on them. */
export const connectedPorts = (base: number, count: number) => portsInState(base, count, '01');
