/**
 * The command line of a real standalone agent process run from this tree's sources (tsx), for
 * tests that need the agent in a process of its own (a kill, a resource limit, a fuzzer, a
 * process that must stay up). Hermetic: no kernel parameters and no
 * /etc/ramdisk-agent/agent.json of this machine.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
