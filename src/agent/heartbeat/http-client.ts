/**
 * A small HTTP(S) client on node:http/https for the agent's few calls to the conductor
 * (lookup, heartbeat, reachability). It keeps the conductor path free of undici, whose
 * module alone takes 0.1–0.2 s to load on this machine class, on the way to the first
 * heartbeat.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
}

export interface TlsClientOptions {
  /** false: do not verify the server (`ipa-insecure`). */
  rejectUnauthorized?: boolean;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string | undefined;
  ca?: string | Buffer | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
}

/** Keep-alive agents with at most `maxSockets` connections per host, as IPA's pool of 2. */
export function createAgents(tls: TlsClientOptions, maxSockets = 2): HttpAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({
      keepAlive: true,
      maxSockets,
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      minVersion: tls.minVersion ?? 'TLSv1.2',
      ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
    }),
  };
}

export function destroyAgents(agents: HttpAgents): void {
  agents.http.destroy();
  agents.https.destroy();
}

export interface SendOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Connect and idle timeout, ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  agents: HttpAgents;
}

/**
 * One request; resolves with the status, the body text and our address on the connection that
 * carried it; rejects on connection-level failures.
 */
export function send(url: string, options: SendOptions): Promise<{ status: number; text: string; localAddress?: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const body = options.body === undefined ? undefined : Buffer.from(options.body, 'utf8');
    const request = (secure ? https : http).request(
      target,
      {
        method: options.method,
        agent: secure ? options.agents.https : options.agents.http,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const { localAddress } = response.socket;
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            ...(localAddress ? { localAddress } : {}),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${target.origin} within ${options.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
