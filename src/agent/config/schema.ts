/**
 * The agent's configuration: one zod schema, fed (lowest to highest precedence) by the
 * defaults below, a JSON config file, the kernel command line (`ipa-*`, as IPA reads it)
 * and the CLI flags. Defaults are IPA's (reference §13) unless a comment says otherwise.
 */
import { z } from 'zod';

const seconds = (value: number) => z.number().nonnegative().default(value);

export const agentConfigSchema = z.object({
  /** Conductor API URL(s), tried in order. */
  apiUrls: z.array(z.url()).default([]),
  /** Run without a conductor: no lookup, no heartbeats; the token is `agentToken`, if any. */
  standalone: z.boolean().default(false),
  /** Pre-shared token (virtual media boots, or standalone). */
  agentToken: z.string().min(1).optional(),
  listenHost: z.string().default('::'),
  listenPort: z.number().int().min(0).max(65535).default(9999),
  advertiseHost: z.string().optional(),
  advertisePort: z.number().int().min(1).max(65535).optional(),
  advertiseProtocol: z.enum(['http', 'https']).default('http'),
  networkInterface: z.string().optional(),
  ipLookupAttempts: z.number().int().positive().default(6),
  ipLookupSleep: seconds(10),
  /** Devices (or plain files) destructive steps may write outside a ramdisk. */
  allowDevices: z.array(z.string()).default([]),
  /** Extra directories of hardware-manager plugins, after the shipped ones. */
  hardwareManagerPaths: z.array(z.string()).default([]),
  /**
   * Each hardware manager's own settings, by manager name (`hardware_managers` in the config
   * file); each section is validated by that manager's `settings` schema when it is loaded.
   */
  hardwareManagers: z.record(z.string(), z.unknown()).default({}),
  /** Seconds a manager's evaluateHardwareSupport() or initialize() may take before it is skipped. */
  hardwareManagerStartTimeout: z.number().positive().default(30),
  /** Also load npm-installed packages with the `ramdisk-agent-plugin` keyword. */
  discoverInstalledPlugins: z.boolean().default(true),
  /** Load the managers shipped under `hardware-managers/` (tests turn this off). */
  loadShippedManagers: z.boolean().default(true),
  /** `real` powers the machine off/reboots it; `simulate` records it. Default: real only in a ramdisk. */
  powerActions: z.enum(['real', 'simulate']).optional(),
  /**
   * With simulated power actions, where files IPA writes into the ramdisk's /etc (rescue
   * password, `.rescued` marker) go instead. Default: a fresh temporary directory.
   */
  simulatedHostRoot: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  globalRequestId: z.string().optional(),
  ironicApiVersion: z
    .string()
    .regex(/^\d+\.\d+$/)
    .optional(),
  lookupTimeout: seconds(600),
  lookupInterval: seconds(1),
  httpRequestTimeout: seconds(30),
  insecure: z.boolean().default(false),
  cafile: z.string().optional(),
  certfile: z.string().optional(),
  keyfile: z.string().optional(),
  listenTls: z.boolean().default(false),
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  enableAutoTls: z.boolean().default(true),
  autoTlsAllowedClockSkew: seconds(3600),
  tlsMinVersion: z.enum(['1.2', '1.3']).default('1.2'),
  /** TLS 1.2 cipher suites (OpenSSL names), for the API and towards the conductor. IPA's default. */
  tlsCipherSuites: z
    .string()
    .default(
      'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
    ),
  tlsCertificateCurve: z.enum(['p256', 'p384', 'p521']).default('p384'),
  /** Seconds to wait after loading the managers, before anything looks at the hardware. */
  hardwareInitializationDelay: seconds(0),
  diskWaitAttempts: z.number().int().nonnegative().default(10),
  diskWaitDelay: seconds(3),
  imageDownloadConnectionTimeout: seconds(60),
  imageDownloadConnectionRetries: z.number().int().nonnegative().default(9),
  imageDownloadConnectionRetryInterval: seconds(10),
  imageDownloadMaxDuration: seconds(0),
  md5Enabled: z.boolean().default(true),
  injectFilesPriority: z.number().int().min(0).max(99).default(0),
  guardSpecialFilesystems: z.boolean().default(true),
  ignoreBootloaderFailure: z.boolean().optional(),
  enableBiosBootloaderInstall: z.boolean().default(false),
  enableVlanInterfaces: z.string().default(''),
  ntpServer: z.string().optional(),
  /**
   * Where inspection data goes: ironic-inspector's `/v1/continue` or Ironic's
   * `/v1/continue_inspection`, comma-separated URLs tried in turn.
   */
  inspectionCallbackUrl: z.string().optional(),
  /**
   * Unset means IPA's default (`default,logs`). Set without a callback URL, inspection goes to
   * each API URL's `/v1/continue_inspection`, as IPA does.
   */
  inspectionCollectors: z.string().optional(),
  /** `extra-hardware`: benchmarks hardware-detect runs (cpu, disk, mem); none by default. */
  inspectionBenchmarks: z.string().optional(),
  inspectionDhcpWaitTimeout: z.number().int().nonnegative().default(60),
  inspectionDhcpAllInterfaces: z.boolean().default(false),
  /** Seconds to wait for one LLDP frame on each NIC. */
  lldpTimeout: seconds(30),
  /** IPA's deprecated `collect_lldp`: the inventory's `interfaces[].lldp` are filled. */
  collectLldp: z.boolean().default(false),
  /** PXE boot MAC from `BOOTIF=01-aa-bb-...`. */
  bootif: z.string().optional(),
});

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
