/**
 * Starts a real agent in-process, listening on 127.0.0.1 on a free port, for tests that
 * speak HTTP to it; and a tiny client for IPA's command API.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import type { AgentConfigInput } from '../../src/agent/config/schema.js';

export const FIXTURE_MANAGERS = join(import.meta.dirname, '..', 'fixtures', 'hardware-managers');

/**
 * `logLevel`: the agent's logger level (default silent, or TEST_AGENT_LOG_LEVEL); its lines
 * reach `agent.services.logBuffer`, what the log bundle carries, and `logStream` if given.
 * `signal` ends a start still under way (AgentOptions.signal).
 */
export async function startTestAgent(
  overrides: Partial<AgentConfigInput> = {},
  options: { logLevel?: string; signal?: AbortSignal; logStream?: NodeJS.WritableStream } = {},
): Promise<RunningAgent> {
  const config = mergeConfig({
    flags: {
      standalone: true,
      agentToken: 'test-token-0123456789abcdef0123456789',
      listenHost: '127.0.0.1',
      listenPort: 0,
      logLevel: 'silent',
      // Tests name their plugins; npm packages installed on this machine are not theirs.
      discoverInstalledPlugins: false,
      // A missing root device fails at once (IPA waits 10 x 3 s for it): only the test of that
      // wait waits.
      diskWaitAttempts: 1,
      ...overrides,
    },
  });
  const { signal } = options;
  if (options.logLevel) {
    return startAgent({
      config,
      signal,
      logger: { level: options.logLevel, stream: options.logStream ?? new PassThrough().resume() },
    });
  }
  return startAgent({ config, signal, logger: { level: process.env.TEST_AGENT_LOG_LEVEL ?? 'silent' } });
}

export interface CommandResponse {
  status: number;
  body: any;
}

export class AgentTestClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined = 'test-token-0123456789abcdef0123456789',
  ) {}

  #url(path: string, query: Record<string, string> = {}): string {
    const params = new URLSearchParams(query);
    if (this.token) params.set('agent_token', this.token);
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  async post(name: string, params: Record<string, unknown>, wait = false): Promise<CommandResponse> {
    const response = await fetch(this.#url('/v1/commands/', wait ? { wait: 'true' } : {}), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, params }),
    });
    return { status: response.status, body: await response.json() };
  }

  async get(id: string, wait = false): Promise<CommandResponse> {
    const response = await fetch(this.#url(`/v1/commands/${id}`, wait ? { wait: 'true' } : {}));
    return { status: response.status, body: await response.json() };
  }

  async list(): Promise<CommandResponse> {
    const response = await fetch(this.#url('/v1/commands/'));
    return { status: response.status, body: await response.json() };
  }

  /** Poll a command until it leaves RUNNING, calling `onPoll` with every intermediate state. */
  async waitFor(id: string, onPoll?: (body: any) => void, timeoutMs = 120_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.get(id);
      onPoll?.(body);
      if (body.command_status !== 'RUNNING') return body;
      if (Date.now() > deadline) throw new Error(`command ${id} still RUNNING after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
