/**
 * Builds the effective configuration: defaults < config file < kernel command line (with a
 * virtual media boot's parameters.txt over it) < IPA's configuration directory < flags.
 * Each source is plain data; the merged result is validated once, so an error names the
 * key whatever source set it.
 */
import { readFileSync } from 'node:fs';
import { formatZodError } from '../../hardware/zod-error.js';
import { ConfigError } from './config-error.js';
import { readIpaConfigDir } from './ipa-config-dir.js';
import { configFromKernelParams, parseKernelCmdline } from './kernel-cmdline.js';
import type { AgentFlags } from './flags.js';
import { agentConfigSchema, type AgentConfig, type AgentConfigInput } from './schema.js';
import type { MediaSearch } from './vmedia/find-media.js';

const DEFAULT_CONFIG_FILE = '/etc/ramdisk-agent/agent.json';
const DEFAULT_CMDLINE_FILE = '/proc/cmdline';

export interface ConfigSources {
  file?: Partial<AgentConfigInput>;
  kernel?: Partial<AgentConfigInput>;
  /**
   * IPA's /etc/ironic-python-agent.d (TLS settings only). Over the kernel command line as in
   * IPA, where `ipa-insecure=` is only the default of the `insecure` its files may set.
   */
  ipaConfigDir?: Partial<AgentConfigInput>;
  flags?: Partial<AgentConfigInput>;
}

/** Later sources win key by key; lists replace, they do not concatenate. */
export function mergeConfig(sources: ConfigSources): AgentConfig {
  const merged = { ...sources.file, ...sources.kernel, ...sources.ipaConfigDir, ...sources.flags };
  const result = agentConfigSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(`invalid configuration: ${formatZodError(result.error)}`);
  return result.data;
}

function readConfigFile(path: string, required: boolean): Partial<AgentConfigInput> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid: ${(error as Error).message}`);
  }
  return configFileKeys(value as Record<string, unknown>, path);
}

const camelCase = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The file's keys are documented in snake_case (`hardware_manager_paths`), like the kernel
 * command line's; camelCase is accepted too. A key the agent does not know is an error, not
 * silence: a misspelt option would otherwise be ignored on a machine being provisioned.
 */
function configFileKeys(value: Record<string, unknown>, path: string): Partial<AgentConfigInput> {
  const known = new Set(Object.keys(agentConfigSchema.shape));
  const config: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, entry] of Object.entries(value)) {
    const name = camelCase(key);
    if (known.has(name)) config[name] = entry;
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    const list = unknown.map((k) => `"${k}"`).join(', ');
    throw new ConfigError(
      `config file ${path} has unknown key${unknown.length > 1 ? 's' : ''} ${list}; known keys: ${[...known].map(snakeCase).join(', ')}`,
    );
  }
  return config as Partial<AgentConfigInput>;
}

export interface LoadOptions {
  /**
   * The folder that stands for `/` where IPA's configuration is copied to and read from
   * (`/etc/ironic-python-agent{,.d}`): `/` unless a test gives a folder of its own.
   */
  ipaConfigRoot?: string;
  /** Where a virtual media boot looks for its media (tests: only their own device). */
  media?: MediaSearch;
  /**
   * Told what was read from virtual media and IPA's configuration, and why something was
   * not, before the agent has a logger. Default: stderr, which the ramdisk's run-agent sends
   * to the console and /var/log/ramdisk-agent.log.
   */
  report?: (message: string) => void;
}

const reportOnStderr = (message: string) => void process.stderr.write(`ramdisk-agent: ${message}\n`);

/**
 * Files are read synchronously: the agent has nothing else to do before it has its
 * configuration, and start-up then need not load node:fs/promises (the build loads it on
 * first use, after the API first answers). Only a virtual media boot (`boot_method=vmedia`
 * on the kernel command line, which IPA requires too) loads the media code and runs tools.
 */
export async function loadAgentConfig(flags: AgentFlags, options: LoadOptions = {}): Promise<AgentConfig> {
  const report = options.report ?? reportOnStderr;
  const root = options.ipaConfigRoot ?? '/';
  const file = readConfigFile(flags.configFile ?? DEFAULT_CONFIG_FILE, flags.configFile !== undefined);
  const cmdlinePath = flags.cmdlineFile ?? DEFAULT_CMDLINE_FILE;
  let cmdline = '';
  try {
    cmdline = readFileSync(cmdlinePath, 'utf8');
  } catch (error) {
    if (flags.cmdlineFile !== undefined) {
      throw new ConfigError(`cannot read kernel command line ${cmdlinePath}: ${(error as Error).message}`);
    }
  }
  let params = parseKernelCmdline(cmdline);
  if (params.boot_method === 'vmedia') {
    const { applyVirtualMediaBoot } = await import('./vmedia/vmedia-boot.js');
    params = await applyVirtualMediaBoot(params, root, options.media ?? {}, report);
  }
  return mergeConfig({
    ...(file ? { file } : {}),
    kernel: configFromKernelParams(params),
    ipaConfigDir: readIpaConfigDir(root, report),
    flags: flags.config,
  });
}
