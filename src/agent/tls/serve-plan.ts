/**
 * How the agent API is served: plain HTTP, static TLS from files, or auto-TLS with a
 * self-signed certificate when the conductor can take it (Ironic API >= 1.68, reference §17.2).
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../hardware/logger.js';
import { ConfigError } from '../config/config-error.js';
import type { AgentConfig } from '../config/schema.js';
import type { ConductorLink } from '../heartbeat/conductor-link.js';
import type { HttpServerOptions } from '../http/server.js';

export interface ServePlan {
  https: HttpServerOptions['https'];
  protocol: 'http' | 'https';
  certificatePem: string | undefined;
}

/** Static TLS from files, or auto-TLS when the conductor can take our certificate (≥ 1.68). */
export type AutoTlsModule = typeof import('./auto-tls.js');

export async function planTls(
  config: AgentConfig,
  link: ConductorLink | undefined,
  advertiseHost: string | undefined,
  log: Logger,
  autoTls: Promise<AutoTlsModule> | undefined,
): Promise<ServePlan> {
  // The conductor may set the TLS floor and ciphers in the lookup's config (IPA applies them).
  const fromLookup = link?.lookupConfig;
  const floor = typeof fromLookup?.tls_min_version === 'string' ? fromLookup.tls_min_version : config.tlsMinVersion;
  const minVersion = floor === '1.3' ? ('TLSv1.3' as const) : ('TLSv1.2' as const);
  const ciphers =
    typeof fromLookup?.tls_cipher_suites === 'string' && fromLookup.tls_cipher_suites
      ? fromLookup.tls_cipher_suites
      : config.tlsCipherSuites;
  if (config.listenTls) {
    if (!config.tlsCertFile || !config.tlsKeyFile) throw new ConfigError('listenTls needs tlsCertFile and tlsKeyFile');
    const [cert, key] = await Promise.all([readFile(config.tlsCertFile), readFile(config.tlsKeyFile)]);
    return { https: { cert, key, minVersion, ciphers }, protocol: 'https', certificatePem: undefined };
  }
  if (config.enableAutoTls && link && advertiseHost && autoTls) {
    const { AGENT_VERIFY_CA_IRONIC_VERSION, compareVersions } = await import('../heartbeat/ironic-api-client.js');
    const version = await link.client.apiVersion();
    if (compareVersions(version, AGENT_VERIFY_CA_IRONIC_VERSION) >= 0) {
      const { generateAgentCertificate } = await autoTls;
      const cert = await generateAgentCertificate({
        advertiseHost,
        curve: config.tlsCertificateCurve,
        allowedClockSkew: config.autoTlsAllowedClockSkew,
      });
      log.info(
        { advertiseHost, notAfter: cert.notAfter.toISOString() },
        'auto-TLS: serving the API with a self-signed certificate',
      );
      return {
        https: { cert: cert.certPem, key: cert.keyPem, minVersion, ciphers },
        protocol: 'https',
        certificatePem: cert.certPem,
      };
    }
    log.info(
      { ironicApiVersion: version.join('.') },
      'auto-TLS off: the conductor API is older than 1.68 and cannot take our certificate',
    );
  }
  return { https: undefined, protocol: config.advertiseProtocol, certificatePem: undefined };
}
