/**
 * `log.collect_system_logs` (reference §16): what an operator needs to understand a failed
 * clean or deploy, as one tar.gz. The conductor stores it (`[agent]deploy_logs_collect`)
 * when a step fails. Names follow IPA's bundle, so existing tooling finds its files; ours
 * adds the agent's own log, its effective configuration (token removed), the routes and the
 * inventory; then, as IPA's bundle, whatever the managers' `collect_system_logs` return.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { HardwareManagerMethodNotFound, describeError } from '../../hardware/errors.js';
import { ExecError, hasCommand } from '../../hardware/exec.js';
import { blockDeviceUdevProperties } from '../../hardware/udev-properties.js';
import { redactText } from '../redact.js';
import type { AgentServices } from '../services.js';
import { tarGz, type TarEntry } from './tar-writer.js';

/** IPA's command set (hardware.py), plus the routes, which decide where heartbeats go. */
const COMMANDS: Record<string, [string, ...string[]]> = {
  df: ['df', '-a'],
  dmesg: ['dmesg'],
  efibootmgr: ['efibootmgr', '-v'],
  iptables: ['iptables', '-L'],
  ip_addr: ['ip', 'addr'],
  ip_route: ['ip', 'route'],
  lsblk: ['lsblk', '--all', '-oKNAME,MODEL,SIZE,ROTA,TYPE,UUID,PARTUUID,SERIAL,WWN,LOG-SEC,PHY-SEC,TRAN'],
  'lsblk-full': ['lsblk', '--all', '--bytes', '--output-all', '--pairs'],
  lshw: ['lshw', '-quiet', '-json'],
  mdstat: ['cat', '/proc/mdstat'],
  mount: ['mount'],
  multipath: ['multipath', '-ll'],
  parted: ['parted', '-l'],
  ps: ['ps', 'au'],
};

const COMMAND_TIMEOUT_MS = 60_000;
const VAR_LOG_FILE_LIMIT = 20 * 1024 * 1024;
const VAR_LOG_TOTAL_LIMIT = 100 * 1024 * 1024;

async function commandOutput(services: AgentServices, name: string, argv: [string, ...string[]]): Promise<TarEntry> {
  const [file, ...args] = argv;
  try {
    // parted -l exits 1 when a disk has no label, and still prints what it knows.
    const { stdout, stderr } = await services.exec(file, args, {
      timeoutMs: COMMAND_TIMEOUT_MS,
      okExitCodes: [0, 1],
      quiet: true,
    });
    return { name, data: stdout + (stderr.trim() ? `\n--- stderr ---\n${stderr}` : '') };
  } catch (error) {
    const reason = error instanceof ExecError ? error.details : String(error);
    services.log.warn({ command: argv.join(' '), err: error }, 'could not collect a log');
    return { name, data: `Failed to get output from "${argv.join(' ')}": ${reason}\n` };
  }
}

/** The whole journal of this boot, or null when there is no journald (many ramdisks). */
async function journal(services: AgentServices): Promise<TarEntry | null> {
  if (!(await hasCommand('journalctl'))) return null;
  try {
    const { stdout } = await services.exec('journalctl', ['--full', '--no-pager', '-b'], {
      timeoutMs: COMMAND_TIMEOUT_MS,
      quiet: true,
    });
    if (stdout.trim() === '' || stdout.startsWith('No journal files were found')) return null;
    return { name: 'journal', data: stdout };
  } catch {
    return null;
  }
}

/** /var/log as it is, when there is no journal to read. */
async function varLog(root = '/var/log'): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const info = await lstat(path).catch(() => null);
      if (!info) continue;
      if (info.isDirectory()) await walk(path);
      else if (info.isFile() && info.size <= VAR_LOG_FILE_LIMIT && total + info.size <= VAR_LOG_TOTAL_LIMIT) {
        const data = await readFile(path).catch(() => null);
        if (!data) continue;
        total += data.length;
        entries.push({ name: join('var', 'log', relative(root, path)), data, mtime: info.mtime });
      }
    }
  };
  await walk(root);
  return entries;
}

async function udevProperties(services: AgentServices): Promise<TarEntry[]> {
  const dumps = await blockDeviceUdevProperties(services.exec);
  return dumps.map((d) => ({ name: `udev/${d.name}`, data: JSON.stringify(d.properties, null, 2) }));
}

/**
 * `ps` shows the agent's own `--agent-token`, `dmesg` and the journal the kernel command line
 * (a pre-shared `ipa-agent-token=`), the agent log request URLs: every text entry is masked,
 * the token the agent holds by value wherever it appears.
 */
function withoutSecrets(entry: TarEntry, services: AgentServices): TarEntry {
  const known = [services.config.agentToken, services.conductor?.agentToken].filter((t): t is string => !!t);
  if (typeof entry.data === 'string') return { ...entry, data: redactText(entry.data, known, Infinity) };
  // Files from /var/log: latin1 maps every byte to one character and back, so nothing else changes.
  return { ...entry, data: Buffer.from(redactText(entry.data.toString('latin1'), known, Infinity), 'latin1') };
}

const managerLogsSchema = z.record(z.string(), z.union([z.string(), z.instanceof(Uint8Array)]));

/**
 * Linux's PATH_MAX less its NUL: a longer name is one no extractor can create. IPA puts any
 * name a manager gives into its tarfile (PAX), so nothing shorter is refused: a name ustar's
 * fields cannot hold gets a PAX `path` header from the tar writer, as a /var/log path does.
 */
const MAX_ENTRY_NAME_BYTES = 4095;

/**
 * A name a manager may give: relative, `/`-separated, no `.`/`..` segment, no NUL (no path
 * holds one), not one of ours, and at most MAX_ENTRY_NAME_BYTES.
 */
function managerEntryName(name: string, taken: ReadonlySet<string>): string | null {
  const segments = name.split('/');
  if (name === '' || name.includes('\0') || Buffer.byteLength(name) > MAX_ENTRY_NAME_BYTES || taken.has(name)) return null;
  return segments.some((s) => s === '' || s === '.' || s === '..') ? null : name;
}

/**
 * IPA's hook: every manager's `collect_system_logs` adds its own entries. IPA fails the whole
 * bundle when one manager raises; here the failure becomes an entry of its own and the bundle
 * still goes out, since it is what the operator reads to find out what failed.
 */
async function managerEntries(services: AgentServices, taken: ReadonlySet<string>): Promise<TarEntry[]> {
  let results: Record<string, unknown>;
  try {
    results = await services.hardware.dispatchToAllManagers('collect_system_logs', services.hardware.context);
  } catch (error) {
    if (HardwareManagerMethodNotFound.is(error)) return [];
    services.log.warn({ err: error }, 'a hardware manager failed to collect its logs');
    return [{ name: 'hardware-manager-logs.error', data: `collect_system_logs failed: ${describeError(error)}\n` }];
  }
  const entries: TarEntry[] = [];
  for (const [manager, value] of Object.entries(results)) {
    const parsed = managerLogsSchema.safeParse(value);
    if (!parsed.success) {
      entries.push({ name: `${manager}.error`, data: 'collect_system_logs did not return {name: string | bytes}\n' });
      continue;
    }
    for (const [raw, data] of Object.entries(parsed.data)) {
      const name = managerEntryName(raw, taken);
      if (name === null) {
        services.log.warn({ manager, name: raw }, 'log entry left out: its name is not a free relative path');
        continue;
      }
      entries.push({ name, data: typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    }
  }
  return entries;
}

function redactedConfig(services: AgentServices): string {
  const { agentToken, ...rest } = services.config;
  return JSON.stringify({ ...rest, agentToken: agentToken ? '***' : undefined }, null, 2);
}

export async function collectSystemLogs(
  services: AgentServices,
  inventory: () => Promise<unknown>,
  /** `varLogRoot`: read this folder as the bundle's `var/log/`, not the journal (tests: a tree of their own). */
  options: { varLogRoot?: string } = {},
): Promise<{ entries: TarEntry[]; archive: Buffer }> {
  const [journalEntry, commands, udev, inventoryEntry] = await Promise.all([
    options.varLogRoot === undefined ? journal(services) : null,
    Promise.all(Object.entries(COMMANDS).map(([name, argv]) => commandOutput(services, name, argv))),
    udevProperties(services),
    inventory().then(
      (value) => ({ name: 'inventory.json', data: JSON.stringify(value, null, 2) }),
      (error: unknown) => ({ name: 'inventory.json', data: JSON.stringify({ error: String(error) }) }),
    ),
  ]);
  const own: TarEntry[] = [
    ...(journalEntry ? [journalEntry] : await varLog(options.varLogRoot)),
    { name: 'ramdisk-agent.log', data: services.logBuffer.text() },
    { name: 'ramdisk-agent-config.json', data: redactedConfig(services) },
    ...commands,
    ...udev,
    inventoryEntry,
  ];
  const fromManagers = await managerEntries(services, new Set(own.map((e) => e.name)));
  const entries = [...own, ...fromManagers].map((entry) => withoutSecrets(entry, services));
  return { entries, archive: await tarGz(entries) };
}
