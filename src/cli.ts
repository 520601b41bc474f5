#!/usr/bin/env node
/**
 * `ramdisk-agent <command>`: the one command-line entry point.
 *   agent      run the in-band agent (what the ramdisk starts)
 */
import { startAgent } from './agent/agent.js';
import { AGENT_USAGE, FlagError, parseAgentFlags } from './agent/config/flags.js';
import { ConfigError } from './agent/config/config-error.js';
import { loadAgentConfig } from './agent/config/load.js';
import { AGENT_VERSION } from './version.js';
import { parseProgressFlags, PROGRESS_USAGE, ProgressError, ProgressUsageError, runProgress } from './cli/progress-command.js';

const USAGE = `ramdisk-agent ${AGENT_VERSION}

Usage: ramdisk-agent <command> [options]

Commands:
  agent       run the in-band agent (IPA-compatible API on port 9999)
  progress    follow a running agent's command as progress bars
  conductor   run or drive the conductor (serve, enroll, clean, deploy, abort, node show)
  demo        provision a pretend machine on this computer, end to end (make demo)
  plugin new NAME   write a hardware-manager plugin package to start from
  version     print the version

Run "ramdisk-agent <command> --help" for a command's options.
`;

const DEMO_USAGE = `Usage: ramdisk-agent demo

Provisions a pretend machine on this computer, end to end: the conductor module cleans and
deploys loop-backed disks through a real agent over HTTP on 127.0.0.1 (make demo).
Takes no options.
`;

async function runAgent(argv: string[]): Promise<number> {
  const flags = parseAgentFlags(argv);
  if (flags.help) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const config = await loadAgentConfig(flags);
  const agent = await startAgent({ config, survivesUnhandledRejections: true });
  // A standalone agent answers before its hardware managers start; if none can, it stops as
  // an agent that could not start at all does (exit 1 with the error).
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      agent.services.log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    agent.ready.catch((error: unknown) => {
      failure = error;
      resolve();
    });
  });
  await agent.close();
  if (failure !== undefined) throw failure;
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'agent':
      return runAgent(rest);
    case 'progress': {
      const options = parseProgressFlags(rest);
      if (options === 'help') {
        process.stdout.write(PROGRESS_USAGE);
        return 0;
      }
      return runProgress(options, { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true }).catch(
        (error: unknown) => {
          if (!(error instanceof ProgressError)) throw error;
          process.stderr.write(`ramdisk-agent progress: ${error.message}\n`);
          return 1;
        },
      );
    }
    case 'conductor': {
      // Loaded on demand: the agent in a ramdisk never needs the conductor or SQLite.
      const { runConductorCommand, UsageError } = await import('./conductor/cli/conductor-command.js');
      try {
        return await runConductorCommand(rest);
      } catch (error) {
        if (error instanceof UsageError) {
          process.stderr.write(`ramdisk-agent conductor: ${error.message}\n\nRun "ramdisk-agent conductor --help" for usage.\n`);
          return 2;
        }
        const { ConductorApiError } = await import('./conductor/cli/api-client.js');
        if (error instanceof ConductorApiError) {
          process.stderr.write(`ramdisk-agent conductor: ${error.message}\n`);
          return 1;
        }
        throw error;
      }
    }
    case 'plugin': {
      const { parsePluginArgs, PLUGIN_NEW_USAGE, PluginUsageError, writePluginPackage } = await import('./cli/plugin-new.js');
      try {
        const options = parsePluginArgs(rest);
        if (options === 'help') {
          process.stdout.write(PLUGIN_NEW_USAGE);
          return 0;
        }
        const files = await writePluginPackage(options);
        process.stdout.write(
          `wrote ${files.length} files in ${options.dir}\nnext: cd ${options.dir} && npm install && npm test\n`,
        );
        return 0;
      } catch (error) {
        if (!(error instanceof PluginUsageError)) throw error;
        process.stderr.write(`ramdisk-agent plugin: ${error.message}\n`);
        return 2;
      }
    }
    case 'demo': {
      // The demo takes no options: `demo --help` (or a typo) must not start it.
      if (rest.length > 0) {
        const help = rest.includes('--help') || rest.includes('-h');
        (help ? process.stdout : process.stderr).write(`${help ? '' : `unknown option ${rest[0]}\n\n`}${DEMO_USAGE}`);
        return help ? 0 : 2;
      }
      const { runDemo } = await import('./conductor/cli/demo/demo.js');
      return runDemo();
    }
    case 'version':
    case '--version':
      process.stdout.write(`${AGENT_VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof FlagError || error instanceof ConfigError || error instanceof ProgressUsageError) {
      process.stderr.write(`ramdisk-agent: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`ramdisk-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
