/**
 * `ramdisk-agent progress`: follows a command of a running agent and draws its progress as
 * bars until it finishes. Talks to the agent over its HTTP API only.
 */
import { parseArgs } from 'node:util';
// The view (its response schemas: zod's classic API) loads when the command runs: the CLI's
// entry point imports this file, and an agent started by the same entry point must not
// compile zod before its API first answers.
import type { CommandResultView } from './progress-view.js';

export const PROGRESS_USAGE = `Usage: ramdisk-agent progress [options]

Follow a command of a running agent (the last one by default) and draw its progress.

Options:
  --agent URL       the agent's API (default http://127.0.0.1:9999)
  --token TOKEN     the agent token, when the agent requires one
  --command ID      the command to follow (default: the most recent one)
  --interval MS     how often to poll (default 500)
  --once            print the current state once and exit
  -h, --help        this text

Exit status: 0 when the command succeeded (or --once), 1 when it failed, 2 on bad usage.
`;

export interface ProgressOptions {
  agent: string;
  token: string | undefined;
  command: string | undefined;
  intervalMs: number;
  once: boolean;
}

export class ProgressUsageError extends Error {}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      agent: { type: 'string' },
      token: { type: 'string' },
      command: { type: 'string' },
      interval: { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

export function parseProgressFlags(argv: string[]): ProgressOptions | 'help' {
  let parsed;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    throw new ProgressUsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const intervalMs = values.interval === undefined ? 500 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 50)
    throw new ProgressUsageError('--interval must be an integer ≥ 50 (milliseconds)');
  const agent = (values.agent ?? 'http://127.0.0.1:9999').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(agent)) throw new ProgressUsageError('--agent must be an http:// or https:// URL');
  return { agent, token: values.token, command: values.command, intervalMs, once: values.once ?? false };
}

/** A failure to show the operator as one line (agent unreachable, unknown command). */
export class ProgressError extends Error {}

async function getJson(url: string): Promise<unknown> {
  const shown = url.replace(/agent_token=[^&]*/, 'agent_token=…');
  const response = await fetch(url).catch((error: unknown) => {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new ProgressError(`cannot reach the agent at ${shown}: ${cause}`);
  });
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const fault = body as { faultstring?: string } | undefined;
    throw new ProgressError(`${shown} answered ${response.status}${fault?.faultstring ? `: ${fault.faultstring}` : ''}`);
  }
  return body;
}

function withToken(url: string, token: string | undefined): string {
  return token ? `${url}${url.includes('?') ? '&' : '?'}agent_token=${encodeURIComponent(token)}` : url;
}

async function fetchCommand(options: ProgressOptions): Promise<CommandResultView> {
  const { commandResultSchema, commandListSchema } = await import('./progress-view.js');
  if (options.command) {
    return commandResultSchema.parse(
      await getJson(withToken(`${options.agent}/v1/commands/${encodeURIComponent(options.command)}`, options.token)),
    );
  }
  const { commands } = commandListSchema.parse(await getJson(withToken(`${options.agent}/v1/commands/`, options.token)));
  const latest = commands.at(-1);
  if (!latest) throw new ProgressError('the agent has run no command yet');
  return latest;
}

export interface ProgressOutput {
  write(text: string): void;
  isTTY: boolean;
}

/** Polls and draws until the command finishes; returns the exit status. */
export async function runProgress(options: ProgressOptions, out: ProgressOutput): Promise<number> {
  const { renderCommand } = await import('./progress-view.js');
  let drawnLines = 0;
  let lastFrame = '';
  const commandId = options.command ?? (await fetchCommand(options)).id;
  const follow = { ...options, command: commandId };
  for (;;) {
    const command = await fetchCommand(follow);
    const frame = renderCommand(command);
    if (frame !== lastFrame) {
      // On a terminal, redraw in place; elsewhere (logs, pipes) append each new state.
      if (out.isTTY && drawnLines > 0) out.write(`\x1b[${drawnLines}A\x1b[0J`);
      out.write(`${frame}\n`);
      drawnLines = frame.split('\n').length;
      lastFrame = frame;
    }
    if (options.once) return 0;
    if (command.command_status !== 'RUNNING') return command.command_status === 'SUCCEEDED' ? 0 : 1;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
