/**
 * IPA's configuration directory, `/etc/ironic-python-agent.d/*.conf` (IPA's ramdisk runs it
 * with `--config-dir` there), read for the settings this agent shares with IPA's: the TLS
 * options of its Ironic API client, `[DEFAULT]` `cafile`, `certfile`, `keyfile` and
 * `insecure`. Ironic's virtual media ISO puts `ironic-tls.conf` there (`cafile =
 * /etc/ironic-python-agent/ironic.crt`, its `[agent]api_ca_file`), which
 * vmedia/vmedia-boot.ts copies into /etc; an image builder may add files of its own.
 *
 * Files are read in name order, a later one winning, as oslo.config reads a config dir.
 * Any other option is IPA's alone (or has an `ipa-*` kernel parameter or agent.json key
 * here): it is named in one message and otherwise left alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ConfigError } from './config-error.js';
import type { AgentConfigInput } from './schema.js';

const CONFIG_DIR = '/etc/ironic-python-agent.d';
const PATH_OPTIONS = { cafile: 'cafile', certfile: 'certfile', keyfile: 'keyfile' } as const;

/**
 * oslo.config's ini reading: `[section]`, `key = value` or `key: value` (whichever separator
 * comes first), `#`/`;` comments, indented continuation lines, one pair of quotes stripped.
 * Returns the last value of each `section.key`.
 */
export function parseOsloIni(text: string): Map<string, string> {
  const values = new Map<string, string>();
  let section = 'DEFAULT';
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line === '') {
      lastKey = undefined;
      continue;
    }
    if (line.startsWith('#') || line.startsWith(';')) continue;
    if (/^\s/.test(line) && lastKey !== undefined) {
      values.set(lastKey, `${values.get(lastKey)}\n${line.trim()}`);
      continue;
    }
    const header = /^\[([^\]]+)\]$/.exec(line.trim());
    if (header) {
      section = header[1]!.trim();
      lastKey = undefined;
      continue;
    }
    const separator = [line.indexOf('='), line.indexOf(':')].filter((i) => i > 0).sort((a, b) => a - b)[0];
    if (separator === undefined) continue;
    let value = line.slice(separator + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) value = value.slice(1, -1);
    lastKey = `${section}.${line.slice(0, separator).trim()}`;
    values.set(lastKey, value);
  }
  return values;
}

/** oslo.config's Boolean: these words only, in any case; anything else is an error. */
function osloBool(value: string, where: string): boolean {
  const word = value.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(word)) return true;
  if (['false', '0', 'off', 'no'].includes(word)) return false;
  throw new ConfigError(`${where}: insecure = ${value} is not a boolean (true/false, yes/no, on/off, 1/0)`);
}

/**
 * The agent settings IPA's configuration directory under `root` (`/` in the ramdisk; tests:
 * a folder of their own) sets. A file's absolute paths are read under `root` too: they name
 * files of the machine the directory belongs to.
 */
export function readIpaConfigDir(root: string, report: (message: string) => void): Partial<AgentConfigInput> {
  const dir = join(root, CONFIG_DIR);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => name.endsWith('.conf'))
      .sort();
  } catch {
    return {}; // no such directory: IPA's configuration was not given
  }
  const config: Record<string, unknown> = {};
  for (const name of names) {
    const file = join(dir, name);
    let values: Map<string, string>;
    try {
      values = parseOsloIni(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`cannot read IPA's configuration file ${file}: ${(error as Error).message}`);
    }
    const ignored: string[] = [];
    for (const [key, value] of values) {
      const option = key.startsWith('DEFAULT.') ? key.slice('DEFAULT.'.length) : undefined;
      if (option !== undefined && option in PATH_OPTIONS) {
        config[PATH_OPTIONS[option as keyof typeof PATH_OPTIONS]] = isAbsolute(value) ? join(root, value) : value;
      } else if (option === 'insecure') {
        config.insecure = osloBool(value, file);
      } else {
        ignored.push(key.replace(/^(.*)\.([^.]*)$/, '[$1] $2'));
      }
    }
    const taken = values.size - ignored.length;
    report(
      `Read ${file}: ${taken} TLS setting${taken === 1 ? '' : 's'}` +
        (ignored.length > 0 ? `; IPA's options ${ignored.join(', ')} are not this agent's and are left alone` : ''),
    );
  }
  return config as Partial<AgentConfigInput>;
}
