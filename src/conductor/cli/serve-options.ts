/**
 * `conductor serve` options → what the service runs with: where it listens and stores nodes,
 * and Ironic's configuration options that shape cleaning and the agent's disk erase.
 */
import { parse, UsageError } from './cli-args.js';
import type { ServeOptions } from './serve.js';

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--listen expects HOST:PORT, got "${value}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port: Number(match[3]) };
}

/** An integer option (a step priority): Ironic's IntOpt refuses anything else. */
function integerOption(value: string | undefined, flag: string): number | null {
  if (value === undefined) return null;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${flag} expects an integer, got "${value}"`);
  return Number(value);
}

/** An integer option of at least `min` (Ironic's IntOpt min), or `fallback` when not given. */
function countOption(values: Record<string, unknown>, name: string, min: number, fallback: number): number {
  const value = integerOption(values[name] as string | undefined, `--${name}`);
  if (value === null) return fallback;
  if (value < min) throw new UsageError(`--${name} must be at least ${min}, got ${value}`);
  return value;
}

/** `IFACE.STEP:N` entries (Ironic's `[conductor]clean_step_priority_override` format). */
function priorityOverrides(values: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of values ?? []) {
    const match = /^([a-z_]+\.[A-Za-z0-9_]+):(-?\d+)$/.exec(item.trim());
    if (!match) throw new UsageError(`--clean-step-priority-override expects IFACE.STEP:PRIORITY, got "${item}"`);
    out[match[1]!] = Number(match[2]);
  }
  return out;
}

/** `conductor serve` options → what the service runs with. */
/** `conductor serve` options → what the service runs with. */
export function serveOptions(argv: string[]): ServeOptions {
  const { values } = parse(argv, {
    listen: { type: 'string' },
    db: { type: 'string' },
    'heartbeat-timeout': { type: 'string' },
    'fast-track': { type: 'boolean' },
    'boot-mode': { type: 'string' },
    'power-off-wait': { type: 'string' },
    'deploy-logs': { type: 'string' },
    'log-level': { type: 'string' },
    'erase-devices-priority': { type: 'string' },
    'erase-devices-metadata-priority': { type: 'string' },
    'clean-step-priority-override': { type: 'string', multiple: true },
    'no-automated-clean': { type: 'boolean' },
    'shred-random-overwrite-iterations': { type: 'string' },
    'no-shred-final-overwrite-with-zeros': { type: 'boolean' },
    'continue-if-disk-secure-erase-fails': { type: 'boolean' },
    'no-ata-secure-erase': { type: 'boolean' },
    'no-nvme-secure-erase': { type: 'boolean' },
    'disk-erasure-concurrency': { type: 'string' },
    'erase-skip-read-only': { type: 'boolean' },
  });
  const { host, port } = parseListen((values.listen as string | undefined) ?? '127.0.0.1:6385');
  const bootMode = (values['boot-mode'] as string | undefined) ?? 'uefi';
  if (bootMode !== 'uefi' && bootMode !== 'bios') throw new UsageError('--boot-mode is uefi or bios');
  const [retries, interval] = ((values['power-off-wait'] as string | undefined) ?? '6,5').split(',').map(Number);
  return {
    host,
    port,
    dbPath: (values.db as string | undefined) ?? 'ramdisk-agent-conductor.sqlite',
    logLevel: (values['log-level'] as string | undefined) ?? 'info',
    ...(values['deploy-logs'] ? { deployLogsDir: values['deploy-logs'] as string } : {}),
    conf: {
      api: { ramdiskHeartbeatTimeout: Number((values['heartbeat-timeout'] as string | undefined) ?? 300) },
      // Without these an operator of `conductor serve` had no way to keep IPA's erase_devices
      // (a shred of every disk, hours on real servers) out of automated cleaning, as Ironic's
      // [deploy]erase_devices_priority=0 does, or to reorder or disable other steps.
      conductor: {
        automatedClean: values['no-automated-clean'] !== true,
        cleanStepPriorityOverride: priorityOverrides(values['clean-step-priority-override'] as string[] | undefined),
      },
      deploy: {
        fastTrack: values['fast-track'] === true,
        defaultBootMode: bootMode,
        eraseDevicesPriority: integerOption(values['erase-devices-priority'] as string | undefined, '--erase-devices-priority'),
        eraseDevicesMetadataPriority: integerOption(
          values['erase-devices-metadata-priority'] as string | undefined,
          '--erase-devices-metadata-priority',
        ),
        // An operator could not choose how the agent erases (passes, zeros, secure-erase
        // fallback, parallel disks) as Ironic's [deploy] options do: agent_add_clean_params
        // sent Ironic's defaults whatever was wanted.
        shredRandomOverwriteIterations: countOption(values, 'shred-random-overwrite-iterations', 0, 1),
        shredFinalOverwriteWithZeros: values['no-shred-final-overwrite-with-zeros'] !== true,
        continueIfDiskSecureEraseFails: values['continue-if-disk-secure-erase-fails'] === true,
        enableAtaSecureErase: values['no-ata-secure-erase'] !== true,
        enableNvmeSecureErase: values['no-nvme-secure-erase'] !== true,
        diskErasureConcurrency: countOption(values, 'disk-erasure-concurrency', 1, 1),
        eraseSkipReadOnly: values['erase-skip-read-only'] === true,
      },
      agent: { postDeployGetPowerStateRetries: retries ?? 6, postDeployGetPowerStateRetryInterval: interval ?? 5 },
    },
  };
}
