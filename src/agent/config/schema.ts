/**
 * The agent's configuration: one zod schema, fed (lowest to highest precedence) by the
 * defaults below, a JSON config file, the kernel command line (`ipa-*`, as IPA reads it)
 * and the CLI flags. Defaults are IPA's (reference §13) unless a comment says otherwise.
 *
 * Written with `zod/mini` (the same validators as the rest of the agent's `zod`, as
 * functions): the configuration is validated before the API first answers, and zod's
 * classic API (every method on every schema, all its locales: ~450 KB) would be compiled and
 * evaluated on that path for this one schema. `schema.check(...)`, `z.optional(...)` and
 * `z._default(...)` are exactly what classic's `.int()`, `.min()`, `.optional()` and
 * `.default()` build, so the checks, their order and the messages are the same.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { DEFAULT_PERMITTED_IMAGE_FORMATS } from '../../hardware/settings.js';

// zod/mini installs no locale (an issue would read "Invalid input"); classic zod installs
// English when it loads. Configuration errors go to the operator, so install it here, as
// classic does: one global setting, the same for both.
z.config(en());

const seconds = (value: number) => z._default(z.number().check(z.nonnegative()), value);

/**
 * One conductor API URL. IPA (9.4.3) takes `^(mdns|http(s?)://.+)`: http(s) URLs, or `mdns`,
 * for which it finds the API by multicast DNS (`_openstack._tcp`, service `baremetal`). This
 * agent has no mDNS client, so `mdns` is refused by name (it would otherwise read "Invalid
 * URL") and the operator is told what to give instead.
 */
const apiUrl = z.pipe(
  z.string().check(
    z.refine((value) => value !== 'mdns', {
      error:
        'ipa-api-url=mdns (finding the Ironic API by multicast DNS) is not supported by this agent: ' +
        "give the API's URL, e.g. ipa-api-url=http://192.0.2.10:6385 (or https://...)",
      abort: true,
    }),
  ),
  z.url({ protocol: /^https?$/, error: 'Invalid URL: expected http://... or https://...' }),
);

export const agentConfigSchema = z.object({
  /** Conductor API URL(s), tried in order. */
  apiUrls: z._default(z.array(apiUrl), []),
  /** Run without a conductor: no lookup, no heartbeats; the token is `agentToken`, if any. */
  standalone: z._default(z.boolean(), false),
  /** Pre-shared token (virtual media boots, or standalone). */
  agentToken: z.optional(z.string().check(z.minLength(1))),
  /**
   * Unset: IPA's wildcard, `::`, or `0.0.0.0` when IPv6 is disabled (http/listen-address.ts).
   * Unset rather than `::` so that an operator's `::` is never replaced.
   */
  listenHost: z.optional(z.string()),
  listenPort: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), 9999),
  advertiseHost: z.optional(z.string()),
  advertisePort: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(65535))),
  advertiseProtocol: z._default(z.enum(['http', 'https']), 'http'),
  networkInterface: z.optional(z.string()),
  ipLookupAttempts: z._default(z.number().check(z.int(), z.positive()), 6),
  ipLookupSleep: seconds(10),
  /** Devices (or plain files) destructive steps may write outside a ramdisk. */
  allowDevices: z._default(z.array(z.string()), []),
  /** Extra directories of hardware-manager plugins, after the shipped ones. */
  hardwareManagerPaths: z._default(z.array(z.string()), []),
  /**
   * Each hardware manager's own settings, by manager name (`hardware_managers` in the config
   * file); each section is validated by that manager's `settings` schema when it is loaded.
   */
  hardwareManagers: z._default(z.record(z.string(), z.unknown()), {}),
  /** Seconds a manager's evaluateHardwareSupport() or initialize() may take before it is skipped. */
  hardwareManagerStartTimeout: z._default(z.number().check(z.positive()), 30),
  /** Also load npm-installed packages with the `ramdisk-agent-plugin` keyword. */
  discoverInstalledPlugins: z._default(z.boolean(), true),
  /** Load the managers shipped under `hardware-managers/` (tests turn this off). */
  loadShippedManagers: z._default(z.boolean(), true),
  /** `real` powers the machine off/reboots it; `simulate` records it. Default: real only in a ramdisk. */
  powerActions: z.optional(z.enum(['real', 'simulate'])),
  /**
   * With simulated power actions, where files IPA writes into the ramdisk's /etc (rescue
   * password, `.rescued` marker) go instead. Default: a fresh temporary directory.
   */
  simulatedHostRoot: z.optional(z.string()),
  logLevel: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  globalRequestId: z.optional(z.string()),
  /**
   * `ipa-ironic-api-version`: read by the API client as IPA reads it (`1.62`, `1.62.0`); a value
   * it cannot read is logged there and the version detected, as IPA does, rather than keeping
   * the agent from starting.
   */
  ironicApiVersion: z.optional(z.string()),
  lookupTimeout: seconds(600),
  lookupInterval: seconds(1),
  httpRequestTimeout: seconds(30),
  insecure: z._default(z.boolean(), false),
  cafile: z.optional(z.string()),
  certfile: z.optional(z.string()),
  keyfile: z.optional(z.string()),
  listenTls: z._default(z.boolean(), false),
  tlsCertFile: z.optional(z.string()),
  tlsKeyFile: z.optional(z.string()),
  enableAutoTls: z._default(z.boolean(), true),
  autoTlsAllowedClockSkew: seconds(3600),
  tlsMinVersion: z._default(z.enum(['1.2', '1.3']), '1.2'),
  /** TLS 1.2 cipher suites (OpenSSL names), for the API and towards the conductor. IPA's default. */
  tlsCipherSuites: z._default(
    z.string(),
    'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
  ),
  tlsCertificateCurve: z._default(z.enum(['p256', 'p384', 'p521']), 'p384'),
  /** Seconds to wait after loading the managers, before anything looks at the hardware. */
  hardwareInitializationDelay: seconds(0),
  diskWaitAttempts: z._default(z.number().check(z.int(), z.nonnegative()), 10),
  diskWaitDelay: seconds(3),
  imageDownloadConnectionTimeout: seconds(60),
  imageDownloadConnectionRetries: z._default(z.number().check(z.int(), z.nonnegative()), 9),
  imageDownloadConnectionRetryInterval: seconds(10),
  imageDownloadMaxDuration: seconds(0),
  md5Enabled: z._default(z.boolean(), true),
  injectFilesPriority: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(99)), 0),
  guardSpecialFilesystems: z._default(z.boolean(), true),
  ignoreBootloaderFailure: z.optional(z.boolean()),
  enableBiosBootloaderInstall: z._default(z.boolean(), false),
  /**
   * IPA's `permitted_image_formats` and `disable_deep_image_inspection`: config file only, as in
   * IPA. Ironic's lookup sends its `[conductor]` values, which replace these.
   */
  permittedImageFormats: z._default(z.array(z.string()), () => [...DEFAULT_PERMITTED_IMAGE_FORMATS]),
  disableDeepImageInspection: z._default(z.boolean(), false),
  enableVlanInterfaces: z._default(z.string(), ''),
  ntpServer: z.optional(z.string()),
  /**
   * Where inspection data goes: ironic-inspector's `/v1/continue` or Ironic's
   * `/v1/continue_inspection`, comma-separated URLs tried in turn.
   */
  inspectionCallbackUrl: z.optional(z.string()),
  /**
   * Unset means IPA's default (`default,logs`). Set without a callback URL, inspection goes to
   * each API URL's `/v1/continue_inspection`, as IPA does.
   */
  inspectionCollectors: z.optional(z.string()),
  /** `extra-hardware`: benchmarks hardware-detect runs (cpu, disk, mem); none by default. */
  inspectionBenchmarks: z.optional(z.string()),
  inspectionDhcpWaitTimeout: z._default(z.number().check(z.int(), z.nonnegative()), 60),
  inspectionDhcpAllInterfaces: z._default(z.boolean(), false),
  /** Seconds to wait for one LLDP frame on each NIC. */
  lldpTimeout: seconds(30),
  /** IPA's deprecated `collect_lldp`: the inventory's `interfaces[].lldp` are filled. */
  collectLldp: z._default(z.boolean(), false),
  /** PXE boot MAC from `BOOTIF=01-aa-bb-...`. */
  bootif: z.optional(z.string()),
});

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
