/**
 * Our agent as a separate process, started the way an operator would start it
 * (`ramdisk-agent agent --api-url ... --power-actions simulate --allow-device ...`), from the
 * sources through tsx so the test runs the tree it is in. It gets its own process group so
 * stop() reaches every child, and its JSON log lines are kept for the test's assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './free-port.js';

const REPO = join(import.meta.dirname, '..', '..', '..');

export interface AgentLogRecord {
  time: number;
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface AgentProcessOptions {
  apiUrl: string;
  allowDevices: readonly string[];
  /** Extra plugin folders (`--hardware-manager-path`). */
  hardwareManagerPaths?: readonly string[];
}

export class AgentProcess {
  readonly records: AgentLogRecord[] = [];
  /** Lines that were not JSON (stderr, crashes). */
  readonly otherLines: string[] = [];
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;
  readonly #waiters = new Set<() => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
    readonly logFile: string,
    logStream: WriteStream,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? null : code);
        logStream.end();
        resolve(code);
        this.#wake();
      });
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        logStream.write(`${line}\n`);
        try {
          const record = JSON.parse(line) as AgentLogRecord;
          if (typeof record === 'object' && record !== null && typeof record.msg === 'string') {
            this.records.push(record);
            this.#wake();
            return;
          }
        } catch {
          // not a log record
        }
        this.otherLines.push(line);
      });
    }
  }

  static async start(options: AgentProcessOptions): Promise<AgentProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-interop-'));
    // Hermetic: no kernel parameters and no /etc/ramdisk-agent/agent.json of this machine.
    writeFileSync(join(dir, 'cmdline'), '');
    writeFileSync(join(dir, 'agent.json'), '{}');
    const port = await freePort();
    const args = [
      '--import',
      'tsx',
      join(REPO, 'src', 'cli.ts'),
      'agent',
      '--api-url',
      options.apiUrl,
      '--power-actions',
      'simulate',
      ...options.allowDevices.flatMap((device) => ['--allow-device', device]),
      ...(options.hardwareManagerPaths ?? []).flatMap((path) => ['--hardware-manager-path', path]),
      '--listen',
      `127.0.0.1:${port}`,
      '--advertise-host',
      '127.0.0.1',
      '--cmdline',
      join(dir, 'cmdline'),
      '--config',
      join(dir, 'agent.json'),
      '--log-level',
      'debug',
    ];
    const child = spawn(process.execPath, args, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const logFile = join(dir, 'agent.log');
    const agent = new AgentProcess(child, port, dir, logFile, createWriteStream(logFile));
    liveAgents.add(agent);
    return agent;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Log records whose message matches. */
  find(msg: string | RegExp): AgentLogRecord[] {
    return this.records.filter((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(r.msg)));
  }

  /** The clean/deploy steps the agent ran, in order (from its "running … step" lines). */
  stepsRun(): { phase: string; step: string; args: unknown; time: number }[] {
    return this.records
      .filter((r) => /^running (clean|deploy|service) step$/.test(r.msg))
      .map((r) => ({ phase: r.msg.split(' ')[1]!, step: String(r.step), args: r.args, time: r.time }));
  }

  /** Wait until a record satisfies `predicate` (or the agent exits). */
  async waitFor(
    predicate: (record: AgentLogRecord) => boolean,
    timeoutMs = 60_000,
    what = 'a log record',
  ): Promise<AgentLogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.find(predicate);
      if (found) return found;
      if (!this.running) throw new Error(`the agent exited (${this.#exitCode}) before ${what}\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} from the agent in ${timeoutMs} ms\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiters.delete(done);
          resolve();
        }, left);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.add(done);
      });
    }
  }

  /** The last log lines, for failure messages (debug lines left out). */
  tail(count = 25): string {
    const lines = [
      ...this.records.filter((r) => r.level >= 30).map((r) => JSON.stringify(r).slice(0, 500)),
      ...this.otherLines.slice(-10),
    ];
    return lines.slice(-count).join('\n');
  }

  /** SIGTERM to the process group; SIGKILL after 10 s. Removes the temp folder. */
  async stop(): Promise<void> {
    liveAgents.delete(this);
    if (this.running) {
      signalGroup(this.child, 'SIGTERM');
      const killed = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 10_000)),
      ]);
      if (killed) {
        signalGroup(this.child, 'SIGKILL');
        await this.exited;
      }
    }
    if (process.env.KEEP_INTEROP_STATE === '1') process.stderr.write(`[interop] agent log kept in ${this.logFile}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
    this.#waiters.clear();
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is gone
  }
}

// If the test process dies without running afterAll (a crash, a kill), no agent may outlive it.
const liveAgents = new Set<AgentProcess>();
process.once('exit', () => {
  for (const agent of liveAgents) signalGroup(agent.child, 'SIGKILL');
});
