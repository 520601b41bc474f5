/**
 * The CLI's client for the conductor API (`ramdisk-agent conductor serve`): plain JSON over
 * HTTP, Ironic's error bodies turned into readable messages.
 */
export class ConductorApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_CONDUCTOR_URL = process.env.RAMDISK_AGENT_CONDUCTOR_URL ?? 'http://127.0.0.1:6385';

export class ConductorApiClient {
  constructor(readonly baseUrl: string = DEFAULT_CONDUCTOR_URL) {}

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-openstack-ironic-api-version': '1.82' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new ConductorApiError(
        0,
        `cannot reach the conductor at ${this.baseUrl}: ${(error as Error).message} (is "ramdisk-agent conductor serve" running?)`,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        const outer = JSON.parse(text) as { error_message?: string };
        message = outer.error_message
          ? ((JSON.parse(outer.error_message) as { faultstring?: string }).faultstring ?? outer.error_message)
          : text;
      } catch {
        // not Ironic's shape: show the body as it is
      }
      throw new ConductorApiError(response.status, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  getNode(ident: string, fields?: string[]): Promise<Record<string, any>> {
    return this.request('GET', `/v1/nodes/${encodeURIComponent(ident)}${fields?.length ? `?fields=${fields.join(',')}` : ''}`);
  }

  setProvisionState(ident: string, target: string, extra: Record<string, unknown> = {}): Promise<void> {
    return this.request('PUT', `/v1/nodes/${encodeURIComponent(ident)}/states/provision`, { target, ...extra });
  }

  patchNode(
    ident: string,
    ops: Array<{ op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }>,
  ): Promise<Record<string, any>> {
    return this.request('PATCH', `/v1/nodes/${encodeURIComponent(ident)}`, ops);
  }
}
