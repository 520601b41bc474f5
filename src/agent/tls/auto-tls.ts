/**
 * Auto-TLS (reference §17.2): a fresh self-signed certificate per boot, as IPA's
 * `tls_utils.generate_tls_certificate`: an EC key on the configured curve (P-384 by
 * default), CN = hostname, a critical subjectAltName with the advertised IP, valid from
 * now − allowed clock skew to now + 10 years (IPA: 30 days, see VALIDITY_DAYS), signed with
 * ECDSA-SHA512. The PEM goes to the conductor as `agent_verify_ca`; the key never leaves memory.
 *
 * node:crypto makes the key and signs, but cannot assemble an X.509 certificate, so
 * @peculiar/x509 does that on top of node's WebCrypto.
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

export type CertificateCurve = 'p256' | 'p384' | 'p521';

const NAMED_CURVES: Record<CertificateCurve, string> = { p256: 'P-256', p384: 'P-384', p521: 'P-521' };
/**
 * Unlike IPA's 30 days: the certificate has to last as long as the agent runs, since it
 * cannot be replaced under a running agent. Ironic refuses a heartbeat whose
 * `agent_verify_ca` differs from the one it holds ("Detected change in ramdisk provided
 * agent_verify_ca") until a power action wipes it, and with fast-track an agent heartbeats
 * in `available` until the node is deployed, weeks or months later: from day 31 every call
 * of the conductor failed (certificate has expired) and deploys failed until someone
 * power-cycled the node. A longer life costs nothing here: Ironic pins this exact
 * certificate for this node only, drops it at the next power action, and the key never
 * leaves this process's memory.
 */
const VALIDITY_DAYS = 3650;

export interface AgentCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateOptions {
  /** The address (or name) the conductor connects to, from the callback URL. */
  advertiseHost: string;
  curve?: CertificateCurve;
  /** Seconds the start of validity is moved back, for a BMC clock that runs behind. */
  allowedClockSkew?: number;
  hostname?: string;
  now?: Date;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

export async function generateAgentCertificate(options: CertificateOptions): Promise<AgentCertificate> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: NAMED_CURVES[options.curve ?? 'p384'], hash: 'SHA-512' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - (options.allowedClockSkew ?? 3600) * 1000);
  const notAfter = new Date(now.getTime() + VALIDITY_DAYS * 86_400_000);
  const host = options.advertiseHost.replace(/^\[|\]$/g, '');
  const san = isIP(host) ? { type: 'ip' as const, value: host } : { type: 'dns' as const, value: host };
  const commonName = (options.hostname ?? osHostname()).replace(/[,=+<>#;\\"]/g, '_');
  // A positive 64-bit serial (RFC 5280 asks for positive and unique).
  const serial = randomBytes(8);
  serial[0]! &= 0x7f;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [new x509.SubjectAlternativeNameExtension([san], true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: certificate.toString('pem') + '\n', keyPem: toPem(pkcs8, 'PRIVATE KEY'), notBefore, notAfter };
}
