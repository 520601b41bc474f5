/**
 * Builds the effective configuration: defaults < config file < kernel command line < flags.
 * Each source is plain data; the merged result is validated once, so an error names the
 * key whatever source set it.
 */
import { readFile } from 'node:fs/promises';
import { formatZodError } from '../../hardware/zod-error.js';
import { configFromKernelParams, parseKernelCmdline } from './kernel-cmdline.js';
import type { AgentFlags } from './flags.js';
import { agentConfigSchema, type AgentConfig, type AgentConfigInput } from './schema.js';

const DEFAULT_CONFIG_FILE = '/etc/ramdisk-agent/agent.json';
const DEFAULT_CMDLINE_FILE = '/proc/cmdline';

export class ConfigError extends Error {}

export interface ConfigSources {
  file?: Partial<AgentConfigInput>;
  kernel?: Partial<AgentConfigInput>;
  flags?: Partial<AgentConfigInput>;
}

/** Later sources win key by key; lists replace, they do not concatenate. */
export function mergeConfig(sources: ConfigSources): AgentConfig {
  const merged = { ...sources.file, ...sources.kernel, ...sources.flags };
  const result = agentConfigSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(`invalid configuration: ${formatZodError(result.error)}`);
  return result.data;
}

async function readConfigFile(path: string, required: boolean): Promise<Partial<AgentConfigInput> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Partial<AgentConfigInput>;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid: ${(error as Error).message}`);
  }
}

export async function loadAgentConfig(flags: AgentFlags): Promise<AgentConfig> {
  const file = await readConfigFile(flags.configFile ?? DEFAULT_CONFIG_FILE, flags.configFile !== undefined);
  const cmdlinePath = flags.cmdlineFile ?? DEFAULT_CMDLINE_FILE;
  let cmdline = '';
  try {
    cmdline = await readFile(cmdlinePath, 'utf8');
  } catch (error) {
    if (flags.cmdlineFile !== undefined) {
      throw new ConfigError(`cannot read kernel command line ${cmdlinePath}: ${(error as Error).message}`);
    }
  }
  return mergeConfig({
    ...(file ? { file } : {}),
    kernel: configFromKernelParams(parseKernelCmdline(cmdline)),
    flags: flags.config,
  });
}
