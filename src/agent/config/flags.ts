/**
 * `ramdisk-agent agent` flags. The set is a contract other tools (benches, the demo, the
 * conductor's tests) rely on; keep it stable.
 */
import { parseArgs } from 'node:util';
import type { AgentConfigInput } from './schema.js';

export const AGENT_USAGE = `Usage: ramdisk-agent agent [options]

  --listen HOST:PORT            address to serve the agent API on (default [::]:9999,
                                0.0.0.0:9999 when IPv6 is disabled)
  --advertise-host HOST         address the conductor reaches this agent on
  --advertise-port PORT         port in the callback URL (default: the listen port)
  --api-url URL                 conductor API URL; repeat to give several
  --standalone                  no conductor: no lookup, no heartbeats
  --agent-token TOKEN           token required on /v1/commands (standalone or pre-shared)
  --allow-device PATH           a device or file destructive steps may write; repeatable
  --hardware-manager-path DIR   extra hardware-manager plugins; repeatable
  --no-shipped-managers         do not load the managers shipped under hardware-managers/
  --power-actions real|simulate power off / reboot for real, or only record it
                                (default: real only when running from a ramdisk)
  --network-interface IFACE     advertise the IPv4 address of this interface
  --no-auto-tls                 serve plain HTTP even when the conductor could take a certificate
  --cmdline FILE                read kernel parameters from FILE (default /proc/cmdline)
  --config FILE                 JSON config file (default /etc/ramdisk-agent/agent.json if present)
  --log-level LEVEL             fatal|error|warn|info|debug|trace|silent
`;

export interface AgentFlags {
  config: Partial<AgentConfigInput>;
  cmdlineFile?: string;
  configFile?: string;
  help: boolean;
}

export class FlagError extends Error {}

/** `HOST:PORT`, `[v6]:PORT`, `:PORT` or `PORT`. */
export function parseListen(value: string): { host?: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!match) throw new FlagError(`--listen expects HOST:PORT, got "${value}"`);
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (port > 65535) throw new FlagError(`--listen port out of range: ${port}`);
  return { ...(host ? { host } : {}), port };
}

export function parseAgentFlags(argv: readonly string[]): AgentFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'advertise-host': { type: 'string' },
        'advertise-port': { type: 'string' },
        'api-url': { type: 'string', multiple: true },
        standalone: { type: 'boolean' },
        'agent-token': { type: 'string' },
        'allow-device': { type: 'string', multiple: true },
        'hardware-manager-path': { type: 'string', multiple: true },
        'no-shipped-managers': { type: 'boolean' },
        'power-actions': { type: 'string' },
        'network-interface': { type: 'string' },
        'no-auto-tls': { type: 'boolean' },
        cmdline: { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const v = parsed.values;
  const config: Record<string, unknown> = {};
  if (v.listen !== undefined) {
    const { host, port } = parseListen(v.listen);
    if (host !== undefined) config.listenHost = host;
    config.listenPort = port;
  }
  if (v['advertise-host'] !== undefined) config.advertiseHost = v['advertise-host'];
  if (v['advertise-port'] !== undefined) config.advertisePort = Number(v['advertise-port']);
  if (v['api-url'] !== undefined) config.apiUrls = v['api-url'].map((u) => u.replace(/\/+$/, ''));
  if (v.standalone !== undefined) config.standalone = v.standalone;
  if (v['agent-token'] !== undefined) config.agentToken = v['agent-token'];
  if (v['allow-device'] !== undefined) config.allowDevices = v['allow-device'];
  if (v['hardware-manager-path'] !== undefined) config.hardwareManagerPaths = v['hardware-manager-path'];
  if (v['no-shipped-managers']) config.loadShippedManagers = false;
  if (v['power-actions'] !== undefined) config.powerActions = v['power-actions'];
  if (v['network-interface'] !== undefined) config.networkInterface = v['network-interface'];
  if (v['no-auto-tls']) config.enableAutoTls = false;
  if (v['log-level'] !== undefined) config.logLevel = v['log-level'];
  return {
    config: config as Partial<AgentConfigInput>,
    ...(v.cmdline !== undefined ? { cmdlineFile: v.cmdline } : {}),
    ...(v.config !== undefined ? { configFile: v.config } : {}),
    help: v.help ?? false,
  };
}
