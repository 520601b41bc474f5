/**
 * Ending everything a tool started, not just the tool. fio runs one process per job, stress-ng
 * forks workers, a shell pipeline is several programs: signalling the program the agent
 * started (what execa's timeout, cancelSignal and forceKillAfterDelay do) leaves its children
 * running, e.g. fio jobs still writing a disk after the step reported it aborted.
 *
 * Two nets, because one is not enough:
 * - Each tool runs as the leader of its own process group (execa `detached`: setsid before
 *   exec). SIGTERM goes to the whole group, so a tool that handles it (fio tells its jobs to
 *   stop) still ends in order, and so do a pipeline's members.
 * - Each tool's environment carries a mark, `RAMDISK_AGENT_TOOL=<agent pid>.<agent start
 *   time>.<sequence>`, which every descendant inherits, also one that left the group: fio's job
 *   processes call setsid() themselves (fio backend.c, thread_main), so a group signal never
 *   reaches them. What still carries the mark when the leader is gone, or when the grace
 *   period ends, is signalled by pid, found in /proc/<pid>/environ (the technique of Jenkins'
 *   ProcessTreeKiller). A descendant that clears its environment and leaves the group escapes
 *   both; none of the tools the agent runs does.
 *
 * IPA does none of this: oslo.concurrency's processutils.execute starts tools in the agent's
 * own process group, cannot be aborted, and on a timeout raises subprocess.TimeoutExpired
 * without killing the tool; under systemd the unit's cgroup is killed when the agent stops.
 * The ramdisk here has no service manager doing that (busybox init respawns the agent).
 *
 * The agent's own end: an orderly shutdown aborts the running command, which ends its tree as
 * above and waits for it. `process.exit` and a fatal exception run the exit hook below, which
 * SIGKILLs every live tree. A SIGKILL of the agent (the OOM killer) runs nothing of ours:
 * `setpriv --pdeathsig KILL` (exec.ts) kills each leader, and `killOrphanedTools`, which the
 * respawned agent runs first, kills what is left of a dead agent's trees (the leader's other
 * group members and fio's jobs, which the kernel does not signal). Until then the device
 * guard refuses a disk such an orphan holds open for writing. A watchdog process outliving the
 * agent was the alternative: it costs a resident process for every agent, for a window the
 * respawn closes within seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const MARK = 'RAMDISK_AGENT_TOOL';
const POLL_MS = 50;
/** How long SIGKILL may take to empty a tree (a process in uninterruptible I/O waits for it). */
const KILL_WAIT_MS = 5_000;

/**
 * The 22nd field of /proc/<pid>/stat (start time in clock ticks), which with the pid names
 * one process; undefined when there is no such process or it is a zombie (dead, not reaped).
 */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

let agentId: string | undefined;
let sequence = 0;
const live = new Set<ProcessTree>();

/** The value of the mark in a process's environment, if it has one (a zombie's reads empty). */
function markOf(pid: string): string | undefined {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined; // gone meanwhile, or another user's
  }
  const prefix = Buffer.from(`${MARK}=`);
  for (let at = environ.indexOf(prefix); at >= 0; at = environ.indexOf(prefix, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    return environ.subarray(at + prefix.length, end < 0 ? undefined : end).toString();
  }
  return undefined;
}

/** A live (not zombie) member of process group `group`. */
function inGroup(pid: string, group: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state !== 'Z' && Number(pgrp) === group;
  } catch {
    return false;
  }
}

/**
 * The live processes that carry a mark accepted by `wanted`, or are in process group `group`.
 * Zombies do not count: they do nothing more, and how soon they go depends on who reaps them
 * (a slow init took 1.3 s here).
 */
function processesOf(wanted: (mark: string) => boolean, group?: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const mark = markOf(name);
    if ((mark !== undefined && wanted(mark)) || (group !== undefined && inGroup(name, group))) found.push(Number(name));
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false; // ESRCH: already gone
  }
}

/** The processes one tool started: its group and every process carrying its mark. */
export class ProcessTree {
  /** Merge into the tool's environment. */
  readonly env: Record<string, string>;
  readonly #mark: string;
  #leader: number | undefined;
  #leaderRunning: () => boolean = () => false;

  constructor() {
    agentId ??= `${process.pid}.${startTime('self') ?? '0'}`;
    this.#mark = `${agentId}.${++sequence}`;
    this.env = { [MARK]: this.#mark };
  }

  /** The started leader (`pid` is also its process group), and how to tell it still runs. */
  attach(pid: number | undefined, running: () => boolean): void {
    if (pid === undefined) return;
    this.#leader = pid;
    this.#leaderRunning = running;
    live.add(this);
    registerExitHook();
  }

  /** Forgets the tree once run() is done with it (after a normal exit nothing is signalled). */
  detach(): void {
    live.delete(this);
  }

  /** What is left of the tree: its group's live members and every live process carrying its mark. */
  #members(): number[] {
    return processesOf((mark) => mark === this.#mark, this.#leader);
  }

  /**
   * SIGTERM to the group; when the leader has gone, SIGTERM to what carries the mark; after
   * `graceMs`, SIGKILL to the group and the marked. Resolves when nothing of the tree is left
   * (or SIGKILL has had KILL_WAIT_MS): the caller reports the abort only then.
   */
  async stop(graceMs: number): Promise<void> {
    const leader = this.#leader;
    if (leader === undefined) return;
    signal(-leader, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    let orphansTold = false;
    while (Date.now() < deadline) {
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
      if (this.#leaderRunning()) continue;
      const left = this.#members();
      if (left.length === 0) return;
      if (!orphansTold) for (const pid of left) signal(pid, 'SIGTERM');
      orphansTold = true;
    }
    const killDeadline = Date.now() + KILL_WAIT_MS;
    do {
      this.killNow();
      await sleep(POLL_MS);
    } while ((this.#leaderRunning() || this.#members().length > 0) && Date.now() < killDeadline);
  }

  /** SIGKILL to the group and to every process carrying the mark, synchronously. */
  killNow(): void {
    if (this.#leader !== undefined) signal(-this.#leader, 'SIGKILL');
    for (const pid of this.#members()) signal(pid, 'SIGKILL');
  }
}

let exitHook = false;
function registerExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  // 'exit' handlers run synchronously: killNow is (kill(2) and /proc reads only).
  process.on('exit', () => {
    for (const tree of live) tree.killNow();
  });
}

/**
 * SIGKILLs the tools a dead agent left behind (it was SIGKILLed, so its trees were not
 * ended: see the top of this file), identified by the mark naming an agent process (pid and
 * start time) that no longer exists. Tools of agents still running are left alone. Returns
 * what was killed, as "pid command line".
 */
export function killOrphanedTools(): string[] {
  const alive = new Map<string, boolean>();
  const agentAlive = (value: string): boolean => {
    const [pid, ticks] = value.split('.');
    const key = `${pid}.${ticks}`;
    if (!alive.has(key)) alive.set(key, startTime(Number(pid)) === ticks);
    return alive.get(key)!;
  };
  const killed: string[] = [];
  for (const pid of processesOf((mark) => /^\d+\.\d+\.\d+$/.test(mark) && !agentAlive(mark))) {
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      // gone meanwhile
    }
    if (signal(pid, 'SIGKILL')) killed.push(`${pid} ${command}`);
  }
  return killed;
}
