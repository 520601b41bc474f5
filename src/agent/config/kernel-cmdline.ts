/**
 * IPA's configuration channel: `key=value` tokens on the kernel command line
 * (`/proc/cmdline`), e.g. `ipa-api-url=http://10.0.0.1:6385 ipa-debug=1`.
 */
import type { AgentConfigInput } from './schema.js';

/**
 * Tokens are split on white space; double quotes group (`key="a b"`). A token without `=`
 * is a flag with an empty value. Everything after a lone `--` belongs to init, not to us.
 */
export function parseKernelCmdline(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  const tokens = text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  for (const raw of tokens) {
    if (raw === '--') break;
    const token = raw.replace(/"/g, '');
    const eq = token.indexOf('=');
    if (eq < 0) params[token] = '';
    else params[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return params;
}

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list';
type Key = keyof AgentConfigInput;

/** Kernel parameter → config key, with how its string value is read. */
const KERNEL_PARAMS: Record<string, [Key, Kind]> = {
  'ipa-api-url': ['apiUrls', 'list'],
  'ipa-global-request-id': ['globalRequestId', 'string'],
  'ipa-listen-host': ['listenHost', 'string'],
  'ipa-listen-port': ['listenPort', 'int'],
  'ipa-advertise-host': ['advertiseHost', 'string'],
  'ipa-advertise-port': ['advertisePort', 'int'],
  'ipa-advertise-protocol': ['advertiseProtocol', 'string'],
  'ipa-ip-lookup-attempts': ['ipLookupAttempts', 'int'],
  'ipa-ip-lookup-timeout': ['ipLookupSleep', 'number'],
  'ipa-network-interface': ['networkInterface', 'string'],
  'ipa-lookup-timeout': ['lookupTimeout', 'number'],
  'ipa-lookup-interval': ['lookupInterval', 'number'],
  'ipa-inspection-callback-url': ['inspectionCallbackUrl', 'string'],
  'ipa-inspection-collectors': ['inspectionCollectors', 'string'],
  'ipa-inspection-benchmarks': ['inspectionBenchmarks', 'string'],
  'ipa-inspection-dhcp-wait-timeout': ['inspectionDhcpWaitTimeout', 'int'],
  'ipa-inspection-dhcp-all-interfaces': ['inspectionDhcpAllInterfaces', 'bool'],
  'ipa-lldp-timeout': ['lldpTimeout', 'number'],
  'ipa-collect-lldp': ['collectLldp', 'bool'],
  'ipa-hardware-initialization-delay': ['hardwareInitializationDelay', 'number'],
  'ipa-disk-wait-attempts': ['diskWaitAttempts', 'int'],
  'ipa-disk-wait-delay': ['diskWaitDelay', 'number'],
  'ipa-insecure': ['insecure', 'bool'],
  'ipa-ntp-server': ['ntpServer', 'string'],
  'ipa-agent-token': ['agentToken', 'string'],
  'ipa-image-download-connection-timeout': ['imageDownloadConnectionTimeout', 'number'],
  'ipa-image-download-connection-retries': ['imageDownloadConnectionRetries', 'int'],
  'ipa-image-download-connection-retry-interval': ['imageDownloadConnectionRetryInterval', 'number'],
  'ipa-image-download-max-duration': ['imageDownloadMaxDuration', 'number'],
  'ipa-ironic-api-version': ['ironicApiVersion', 'string'],
  'ipa-enable-vlan-interfaces': ['enableVlanInterfaces', 'string'],
  'ipa-ignore-bootloader-failure': ['ignoreBootloaderFailure', 'bool'],
  // IPA reads enable_bios_bootloader_install from its config file only; a ramdisk built once
  // for many machines takes it from the kernel command line like the other options.
  'ipa-enable-bios-bootloader-install': ['enableBiosBootloaderInstall', 'bool'],
  'ipa-inject-files-priority': ['injectFilesPriority', 'int'],
  'ipa-guard-special-filesystems': ['guardSpecialFilesystems', 'bool'],
  'ipa-http-request-timeout': ['httpRequestTimeout', 'number'],
  'ipa-tls-min-version': ['tlsMinVersion', 'string'],
  'ipa-tls-cipher-suites': ['tlsCipherSuites', 'string'],
  'ipa-tls-certificate-curve': ['tlsCertificateCurve', 'string'],
  BOOTIF: ['bootif', 'string'],
};

/** oslo's `bool_from_string`: what IPA accepts as true. */
const TRUE_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes']);

function convert(value: string, kind: Kind): unknown {
  switch (kind) {
    case 'string':
      return value;
    case 'bool':
      return TRUE_WORDS.has(value.trim().toLowerCase());
    case 'list':
      return value
        .split(',')
        .map((v) => v.trim().replace(/\/+$/, ''))
        .filter(Boolean);
    case 'int':
    case 'number': {
      // Left as the raw string when not numeric, so the schema reports the bad value.
      const n = Number(value);
      return value.trim() !== '' && Number.isFinite(n) ? n : value;
    }
  }
}

/** The config values the kernel command line sets. Unknown parameters are ignored. */
export function configFromKernelParams(params: Record<string, string>): Partial<AgentConfigInput> {
  const config: Record<string, unknown> = {};
  for (const [param, value] of Object.entries(params)) {
    const mapping = KERNEL_PARAMS[param];
    // IPA keeps `ipa-agent-token=` as '' and tests the token for truth (agent.py: `if token:`
    // in process_lookup_data, `self.agent_token and not self.standalone`): an empty value is
    // no pre-shared token, and the lookup's one-time token is installed. The key is left
    // unset, so a token from the config file, if any, still applies.
    if (param === 'ipa-agent-token' && value === '') continue;
    if (mapping) config[mapping[0]] = convert(value, mapping[1]);
  }
  if ('ipa-debug' in params && (params['ipa-debug'] === '' || TRUE_WORDS.has(params['ipa-debug']!.toLowerCase()))) {
    config.logLevel = 'debug';
  }
  return config as Partial<AgentConfigInput>;
}
