/**
 * A stand-in for the two inspection endpoints an agent posts to, on 127.0.0.1:
 * ironic-inspector's `POST /v1/continue` (2023.1) and Ironic's `POST /v1/continue_inspection`
 * (2024.1+). Both look the node up by the inventory's MACs (or BMC address) and answer
 * `{"uuid": ...}` (Ironic: 202 to a request without a version header, ironic-inspector:
 * 200). Ironic's request body check (`DATA_VALIDATOR` in ironic/api/controllers/v1/ramdisk.py)
 * is applied; tests script failures.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

export interface RecordedInspection {
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export class FakeInspector {
  readonly posts: RecordedInspection[] = [];
  /** MAC (lower case) or BMC address → node UUID. */
  readonly known = new Map<string, string>();
  /** Statuses to answer the next posts with, before answering normally. */
  failNext: number[] = [];
  url = '';
  readonly #app: FastifyInstance;

  private constructor() {
    this.#app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
    this.#app.post('/v1/continue', (request, reply) => this.#handle(request, reply, 200));
    this.#app.post('/v1/continue_inspection', (request, reply) => this.#handle(request, reply, 202));
  }

  static async start(): Promise<FakeInspector> {
    const inspector = new FakeInspector();
    await inspector.#app.listen({ host: '127.0.0.1', port: 0 });
    const address = inspector.#app.server.address();
    inspector.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return inspector;
  }

  enroll(addresses: readonly string[], uuid: string = randomUUID()): string {
    for (const a of addresses) this.known.set(a.toLowerCase(), uuid);
    return uuid;
  }

  async close(): Promise<void> {
    await this.#app.close();
  }

  #handle(request: FastifyRequest, reply: FastifyReply, okStatus: number) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const record = (status: number) => this.posts.push({ path: request.url, status, headers: request.headers, body });
    const scripted = this.failNext.shift();
    if (scripted !== undefined) {
      record(scripted);
      return reply.code(scripted).send({ error: { message: `scripted ${scripted}` } });
    }
    const inventory = body.inventory as { interfaces?: Array<{ mac_address?: unknown }>; bmc_address?: unknown } | undefined;
    const interfaces = inventory?.interfaces;
    if (
      typeof inventory !== 'object' ||
      !Array.isArray(interfaces) ||
      interfaces.length < 1 ||
      interfaces.some((i) => typeof i.mac_address !== 'string')
    ) {
      record(400);
      return reply.code(400).send({ error_message: 'Invalid data: the inventory with at least one interface is required' });
    }
    const candidates = [
      ...interfaces.map((i) => String(i.mac_address).toLowerCase()),
      ...(inventory.bmc_address ? [String(inventory.bmc_address)] : []),
    ];
    const uuid = candidates.map((c) => this.known.get(c)).find((u) => u !== undefined);
    if (!uuid) {
      record(404);
      return reply.code(404).send({ error: { message: `Could not find a node for attributes ${candidates.join(',')}` } });
    }
    record(okStatus);
    return reply.code(okStatus).send({ uuid });
  }
}
