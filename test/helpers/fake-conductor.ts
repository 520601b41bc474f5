/**
 * A small, faithful stand-in for the Ironic API's two ramdisk endpoints (reference
 * ironic-conductor.md §7), served on 127.0.0.1: `GET /` (version document), `GET
 * /v1/lookup` and `POST /v1/heartbeat/{uuid}`, with the one-time token, `"******"` after
 * it was revealed, the 400s a real conductor answers, and 202 on success. Tests script
 * failures and power actions (which wipe the token, as a real conductor's do).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

export interface FakeNode {
  uuid: string;
  macs: string[];
  /** Lookup is allowed only in the *WAIT / *ING states (restrict_lookup). */
  lookupAllowed: boolean;
  properties: Record<string, unknown>;
  instance_info: Record<string, unknown>;
  driver_internal_info: Record<string, unknown>;
  token?: string | undefined;
  agentUrl?: string | undefined;
  agentVerifyCa?: string | undefined;
  agentVersion?: string | undefined;
}

export interface RecordedHeartbeat {
  at: number;
  uuid: string;
  status: number;
  apiVersion: string | undefined;
  body: Record<string, unknown>;
}

export interface RecordedLookup {
  at: number;
  status: number;
  apiVersion: string | undefined;
  addresses: string[];
  nodeUuid?: string | undefined;
}

export interface FakeConductorOptions {
  /** The max microversion announced on `GET /` (Ironic 2023.1 is 1.82). */
  maxVersion?: string;
  heartbeatTimeout?: number;
  /**
   * Serve HTTPS with this certificate and key (PEM); with `clientCa`, only to clients that
   * present a certificate it signed (an Ironic API behind mutual TLS).
   */
  tls?: { cert: string; key: string; clientCa?: string };
}

interface FakeConductorEvents {
  heartbeat: [RecordedHeartbeat];
  lookup: [RecordedLookup];
}

function versionOf(header: string | string[] | undefined): [number, number] | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  const match = /^(\d+)\.(\d+)$/.exec(text ?? '');
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function atLeast(v: [number, number] | undefined, major: number, minor: number): boolean {
  return v !== undefined && (v[0] > major || (v[0] === major && v[1] >= minor));
}

/** Ironic's error body: the fault as a JSON string inside `error_message`. */
function fault(reply: FastifyReply, status: number, faultstring: string): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send(
      JSON.stringify({
        error_message: JSON.stringify({ faultcode: status >= 500 ? 'Server' : 'Client', faultstring, debuginfo: null }),
      }),
    );
}

export class FakeConductor extends EventEmitter<FakeConductorEvents> {
  readonly nodes = new Map<string, FakeNode>();
  readonly heartbeats: RecordedHeartbeat[] = [];
  readonly lookups: RecordedLookup[] = [];
  readonly #app: FastifyInstance;
  readonly #maxVersion: string;
  heartbeatTimeout: number;
  /** Extra keys merged into the lookup's `config` (e.g. `tls_min_version`). */
  lookupConfigExtra: Record<string, unknown> = {};
  /** Statuses to answer the next lookups with, before answering normally. */
  failLookups: number[] = [];
  /** Statuses to answer the next `GET /` (version document) with, before answering normally. */
  failRoot: number[] = [];
  url = '';

  private constructor(options: FakeConductorOptions) {
    super();
    this.#maxVersion = options.maxVersion ?? '1.82';
    this.heartbeatTimeout = options.heartbeatTimeout ?? 300;
    const { clientCa, ...tls } = options.tls ?? {};
    this.#app = (options.tls
      ? Fastify({
          logger: false,
          https: clientCa ? { ...tls, ca: clientCa, requestCert: true, rejectUnauthorized: true } : tls,
        })
      : Fastify({ logger: false })) as unknown as FastifyInstance;
    this.#app.get('/', async (_request, reply) => {
      const scripted = this.failRoot.shift();
      if (scripted !== undefined) return fault(reply, scripted, `scripted failure ${scripted}`);
      return this.#root();
    });
    this.#app.get('/v1/lookup', (request, reply) => this.#lookup(request, reply));
    this.#app.post('/v1/heartbeat/:uuid', (request, reply) => this.#heartbeat(request, reply));
  }

  #root() {
    return {
      name: 'OpenStack Ironic API',
      default_version: { id: 'v1', status: 'CURRENT', min_version: '1.1', version: this.#maxVersion },
      versions: [{ id: 'v1', status: 'CURRENT', min_version: '1.1', version: this.#maxVersion }],
    };
  }

  static async start(options: FakeConductorOptions = {}): Promise<FakeConductor> {
    const conductor = new FakeConductor(options);
    await conductor.#app.listen({ host: '127.0.0.1', port: 0 });
    const address = conductor.#app.server.address();
    conductor.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return conductor;
  }

  async close(): Promise<void> {
    await this.#app.close();
  }

  addNode(macs: string[], init: Partial<FakeNode> = {}): FakeNode {
    const node: FakeNode = {
      uuid: randomUUID(),
      macs: macs.map((m) => m.toLowerCase()),
      lookupAllowed: true,
      properties: {},
      instance_info: {},
      driver_internal_info: {},
      ...init,
    };
    this.nodes.set(node.uuid, node);
    return node;
  }

  /** What a power action through Ironic does to an agent's credentials (§7.4). */
  powerCycle(uuid: string): void {
    const node = this.nodes.get(uuid);
    if (!node) throw new Error(`no node ${uuid}`);
    node.token = undefined;
    node.agentUrl = undefined;
    node.agentVerifyCa = undefined;
  }

  /** Resolves with the next heartbeat matching `predicate` (recorded from now on). */
  nextHeartbeat(predicate: (h: RecordedHeartbeat) => boolean = () => true, timeoutMs = 20_000): Promise<RecordedHeartbeat> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('heartbeat', listener);
        reject(new Error(`no matching heartbeat within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (h: RecordedHeartbeat) => {
        if (!predicate(h)) return;
        clearTimeout(timer);
        this.off('heartbeat', listener);
        resolve(h);
      };
      this.on('heartbeat', listener);
    });
  }

  #lookup(request: FastifyRequest, reply: FastifyReply) {
    const version = versionOf(request.headers['x-openstack-ironic-api-version']);
    const query = request.query as { addresses?: string; node_uuid?: string };
    const addresses = (query.addresses ?? '')
      .split(',')
      .map((a) => a.trim().toLowerCase())
      .filter((a) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(a));
    const record = (status: number) => {
      const entry = {
        at: Date.now(),
        status,
        apiVersion: versionOf(request.headers['x-openstack-ironic-api-version'])?.join('.'),
        addresses,
        nodeUuid: query.node_uuid,
      };
      this.lookups.push(entry);
      this.emit('lookup', entry);
    };
    const scripted = this.failLookups.shift();
    if (scripted !== undefined) {
      record(scripted);
      return fault(reply, scripted, `scripted failure ${scripted}`);
    }
    // Without a version header the API serves 1.1, which has no ramdisk endpoints.
    if (!atLeast(version, 1, 22)) {
      record(404);
      return fault(reply, 404, 'The resource could not be found.');
    }
    if (addresses.length === 0 && !query.node_uuid) {
      record(400);
      return fault(reply, 400, "Incomplete lookup request: At least one of 'addresses' and 'node_uuid' parameters is required");
    }
    const node = query.node_uuid
      ? this.nodes.get(query.node_uuid)
      : [...this.nodes.values()].find((n) => n.macs.some((m) => addresses.includes(m)));
    if (!node || !node.lookupAllowed) {
      record(404);
      return fault(reply, 404, 'Node could not be found.');
    }
    let agentToken: string | null = null;
    if (atLeast(version, 1, 62)) {
      if (node.token) agentToken = '******';
      else {
        // secrets.token_urlsafe(): 32 random bytes, 43 URL-safe characters.
        node.token = randomBytes(32).toString('base64url');
        agentToken = node.token;
      }
    }
    record(200);
    return reply.send({
      node: {
        uuid: node.uuid,
        properties: node.properties,
        instance_info: node.instance_info,
        driver_internal_info: { ...node.driver_internal_info, ...(node.token ? { agent_secret_token: '******' } : {}) },
        links: [],
      },
      config: {
        metrics: { backend: 'noop', prepend_host: false, prepend_uuid: false, prepend_host_reverse: true, global_prefix: null },
        metrics_statsd: { statsd_host: 'localhost', statsd_port: 8125 },
        heartbeat_timeout: this.heartbeatTimeout,
        agent_token: agentToken,
        agent_token_required: true,
        disable_deep_image_inspection: false,
        permitted_image_formats: ['raw', 'gpt', 'qcow2'],
        agent_md5_checksum_enable: false,
        agent_skip_bmc_detect: false,
        // Ironic's [agent]enable_bios_bootloader_install default (sent since the CVE-2026-43003 fix).
        enable_bios_bootloader_install: false,
        ...this.lookupConfigExtra,
      },
    });
  }

  #heartbeat(request: FastifyRequest, reply: FastifyReply) {
    const version = versionOf(request.headers['x-openstack-ironic-api-version']);
    const { uuid } = request.params as { uuid: string };
    const body = (request.body ?? {}) as Record<string, unknown>;
    const answer = (status: number, faultstring?: string) => {
      const entry: RecordedHeartbeat = { at: Date.now(), uuid, status, apiVersion: version?.join('.'), body };
      this.heartbeats.push(entry);
      this.emit('heartbeat', entry);
      return faultstring ? fault(reply, status, faultstring) : reply.code(status).send();
    };
    if (!atLeast(version, 1, 22)) return answer(404, 'The resource could not be found.');
    if (body.agent_version !== undefined && !atLeast(version, 1, 36)) return answer(400, 'Field "agent_version" not recognised');
    if (body.agent_verify_ca !== undefined && !atLeast(version, 1, 68)) {
      return answer(400, 'Field "agent_verify_ca" not recognised in this version');
    }
    const node = this.nodes.get(uuid);
    if (!node) return answer(404, `Node ${uuid} could not be found.`);
    if (typeof body.callback_url !== 'string') return answer(400, 'Invalid input for field/attribute callback_url.');
    if (node.agentUrl && node.agentUrl !== body.callback_url)
      return answer(400, 'Detected change in ramdisk provided "callback_url"');
    if (body.agent_token === undefined || body.agent_token === null)
      return answer(400, 'Agent token is required for heartbeat processing.');
    if (body.agent_version === undefined) {
      return answer(400, 'Agent did not transmit a version, and a version is required. Please update the agent being used.');
    }
    if (!node.token || body.agent_token !== node.token) return answer(400, 'Invalid or missing agent token received.');
    if (typeof body.agent_verify_ca === 'string') {
      if (node.agentVerifyCa && node.agentVerifyCa !== body.agent_verify_ca) {
        return answer(400, 'Detected change in ramdisk provided "agent_verify_ca"');
      }
      node.agentVerifyCa = body.agent_verify_ca;
    }
    node.agentUrl = body.callback_url;
    node.agentVersion = String(body.agent_version);
    return answer(202);
  }
}
