/**
 * A stock Ironic 21.4 conductor (API + conductor in one process, noauth, sqlite) on a free
 * 127.0.0.1 port with its own temporary state folder, started and stopped with the scripts
 * in test/interop/ironic/, and a small client for the REST calls an operator would make.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { freePortPair } from './free-port.js';
import { IRONIC_CACHE, IRONIC_SCRIPTS } from './ironic-install.js';

const execFileAsync = promisify(execFile);

/** The newest microversion of 21.4 (`GET /` → default_version 1.82). */
const IRONIC_API_VERSION = '1.82';

const nodeSchema = z.looseObject({
  uuid: z.string(),
  provision_state: z.string(),
  target_provision_state: z.string().nullable(),
  power_state: z.string().nullable(),
  last_error: z.string().nullable(),
  maintenance: z.boolean(),
  maintenance_reason: z.string().nullable(),
  fault: z.string().nullable(),
  clean_step: z.record(z.string(), z.unknown()).nullable(),
  driver_internal_info: z.record(z.string(), z.unknown()),
  instance_info: z.record(z.string(), z.unknown()),
  properties: z.record(z.string(), z.unknown()),
});
export type IronicNode = z.output<typeof nodeSchema>;

export interface StateChange {
  /** Seconds since the wait began. */
  at: number;
  provisionState: string;
  targetProvisionState: string | null;
}

class IronicError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export class IronicConductor {
  readonly url: string;
  readonly logFile: string;
  #stopped = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly pid: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = join(dir, 'ironic.log');
  }

  /**
   * Start a conductor. `overrides` are extra ironic.conf lines (read after the generated
   * file, e.g. `[conductor]\nclean_callback_timeout = 30`).
   */
  static async start(options: { overrides?: string } = {}): Promise<IronicConductor> {
    const dir = mkdtempSync(join(tmpdir(), 'ironic-interop-'));
    if (options.overrides) {
      mkdirSync(join(dir, 'ironic.conf.d'), { recursive: true });
      writeFileSync(join(dir, 'ironic.conf.d', 'test.conf'), `${options.overrides}\n`);
    }
    const port = await freePortPair();
    try {
      const { stdout } = await execFileAsync(join(IRONIC_SCRIPTS, 'start.sh'), [dir, String(port)], {
        env: { ...process.env, IRONIC_CACHE },
        timeout: 120_000,
      });
      const conductor = new IronicConductor(dir, port, Number(stdout.trim()));
      liveConductors.add(conductor);
      return conductor;
    } catch (error) {
      const log = existsSync(join(dir, 'ironic.log')) ? tail(readFileSync(join(dir, 'ironic.log'), 'utf8'), 30) : '(no log)';
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Ironic did not start: ${(error as { stderr?: string }).stderr ?? String(error)}\n${log}`);
    }
  }

  /** SIGTERM (SIGKILL after 15 s) and remove the state folder unless KEEP_INTEROP_STATE=1. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    liveConductors.delete(this);
    await execFileAsync(join(IRONIC_SCRIPTS, 'stop.sh'), [this.dir], { timeout: 30_000 });
    if (process.env.KEEP_INTEROP_STATE === '1') process.stderr.write(`[interop] Ironic state kept in ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort from a process 'exit' handler: no waiting possible there. */
  killNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        'X-OpenStack-Ironic-API-Version': IRONIC_API_VERSION,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, json };
  }

  async #expect(method: string, path: string, status: number, body?: unknown): Promise<unknown> {
    const response = await this.request(method, path, body);
    if (response.status !== status) {
      throw new IronicError(
        `${method} ${path} answered ${response.status}, expected ${status}: ${JSON.stringify(response.json)}`,
        response.status,
        response.json,
      );
    }
    return response.json;
  }

  async createNode(fields: Record<string, unknown>): Promise<IronicNode> {
    return nodeSchema.parse(await this.#expect('POST', '/v1/nodes', 201, fields));
  }

  async createPort(nodeUuid: string, address: string): Promise<void> {
    await this.#expect('POST', '/v1/ports', 201, { node_uuid: nodeUuid, address });
  }

  async node(uuid: string): Promise<IronicNode> {
    return nodeSchema.parse(await this.#expect('GET', `/v1/nodes/${uuid}`, 200));
  }

  /** JSON-patch `add` of whole top-level fields (instance_info, properties, driver_info). */
  async patchNode(uuid: string, fields: Record<string, unknown>): Promise<IronicNode> {
    const patch = Object.entries(fields).map(([key, value]) => ({ op: 'add', path: `/${key}`, value }));
    return nodeSchema.parse(await this.#expect('PATCH', `/v1/nodes/${uuid}`, 200, patch));
  }

  async setProvisionState(uuid: string, target: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.#expect('PUT', `/v1/nodes/${uuid}/states/provision`, 202, { target, ...extra });
  }

  async validate(uuid: string): Promise<Record<string, { result: boolean | null; reason: string | null }>> {
    return (await this.#expect('GET', `/v1/nodes/${uuid}/validate`, 200)) as Record<
      string,
      { result: boolean | null; reason: string | null }
    >;
  }

  /**
   * Poll the node (every 250 ms) until its provision state is one of `expected` (for the
   * stable states: with no transition pending); fail early when it lands in one of `failOn`. `changes` records
   * every state seen, with the time, for the test's own assertions and for error messages.
   */
  async waitForProvisionState(
    uuid: string,
    expected: string | readonly string[],
    options: {
      timeoutMs?: number;
      failOn?: readonly string[];
      changes?: StateChange[];
    } = {},
  ): Promise<IronicNode> {
    const wanted = typeof expected === 'string' ? [expected] : expected;
    const failOn = options.failOn ?? [];
    const changes = options.changes ?? [];
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 120_000);
    for (;;) {
      const node = await this.node(uuid);
      const last = changes.at(-1);
      if (!last || last.provisionState !== node.provision_state || last.targetProvisionState !== node.target_provision_state) {
        changes.push({
          at: (Date.now() - started) / 1000,
          provisionState: node.provision_state,
          targetProvisionState: node.target_provision_state,
        });
      }
      if (wanted.includes(node.provision_state) && settled(node)) return node;
      if (failOn.includes(node.provision_state)) {
        throw new Error(
          `node ${uuid} ended in "${node.provision_state}" waiting for "${wanted.join('" or "')}": last_error=${JSON.stringify(node.last_error)}\n` +
            `states: ${describeChanges(changes)}\nconductor log:\n${this.problems()}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `node ${uuid} still in "${node.provision_state}" after ${options.timeoutMs ?? 120_000} ms waiting for "${wanted.join('" or "')}"\n` +
            `states: ${describeChanges(changes)}\nconductor log:\n${this.problems()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The conductor log's lines matching `pattern` (evidence for assertions). */
  logLines(pattern: RegExp): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((line) => pattern.test(line));
  }

  /** The last WARNING/ERROR lines of the conductor log, for failure messages. */
  problems(count = 15): string {
    return this.logLines(/ (ERROR|WARNING) (?!oslo_service)/)
      .slice(-count)
      .map((line) => line.slice(0, 600))
      .join('\n');
  }
}

// A node just set `manage`d is briefly `manageable` → `manageable` with a pending target;
// failed and *WAIT states keep their target.
const STABLE_STATES = new Set(['enroll', 'manageable', 'available', 'active']);
function settled(node: IronicNode): boolean {
  return !STABLE_STATES.has(node.provision_state) || node.target_provision_state === null;
}

// start.sh runs Ironic in its own session, so it would outlive a test process that dies
// without running afterAll.
const liveConductors = new Set<IronicConductor>();
process.once('exit', () => {
  for (const conductor of liveConductors) conductor.killNow();
});

export function describeChanges(changes: readonly StateChange[]): string {
  return changes
    .map((c) => `${c.at.toFixed(1)}s ${c.provisionState}${c.targetProvisionState ? `→${c.targetProvisionState}` : ''}`)
    .join(', ');
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}
