/**
 * The conductor's HTTP API on one port (Ironic's 6385): the two ramdisk endpoints an agent
 * uses (`GET /v1/lookup`, `POST /v1/heartbeat/{node}`, reference §7) and the small slice of
 * the bare-metal API the CLI needs (nodes, ports, provision, power and target RAID states).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Conductor } from '../conductor.js';
import { InvalidParameterValue } from '../errors.js';
import type { NodeData } from '../node.js';
import { nodeToApi } from './node-view.js';
import { validateRaidConfiguration } from '../drivers/raid-config.js';
import { maskSecrets } from '../agent-client.js';
import { destroyNode, updateNode } from '../node-updates.js';
import { ApiError, errorBody, statusOf } from './errors.js';

const MAX_API_VERSION = '1.82';
const MIN_API_VERSION = '1.1';

/** The requested microversion: `latest` is the newest served, no or an unreadable header the oldest. */
function parseVersion(header: unknown): [number, number] {
  const text = String((Array.isArray(header) ? header[0] : header) ?? '').trim();
  const wanted = text.toLowerCase() === 'latest' ? MAX_API_VERSION : text;
  const match = /^(\d+)\.(\d+)$/.exec(wanted);
  if (!match) return [1, 1];
  return [Number(match[1]), Number(match[2])];
}

function atLeast(v: [number, number], minor: number): boolean {
  return v[0] > 1 || (v[0] === 1 && v[1] >= minor);
}

const heartbeatSchema = z.object({
  callback_url: z.string(),
  agent_token: z.string().nullish(),
  agent_version: z.string().nullish(),
  agent_verify_ca: z.string().nullish(),
  agent_status: z.string().nullish(),
  agent_status_message: z.string().nullish(),
});

const nodeCreateSchema = z.object({
  uuid: z.string().optional(),
  name: z.string().nullish(),
  driver: z.string().optional(),
  deploy_interface: z.string().optional(),
  power_interface: z.string().optional(),
  management_interface: z.string().optional(),
  boot_interface: z.string().optional(),
  bios_interface: z.string().optional(),
  raid_interface: z.string().optional(),
  driver_info: z.record(z.string(), z.unknown()).optional(),
  instance_info: z.record(z.string(), z.unknown()).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  automated_clean: z.boolean().nullish(),
});

const patchSchema = z.array(
  z.object({
    op: z.enum(['add', 'replace', 'remove']),
    path: z.string().regex(/^\/[a-z_]+(\/[^/]+)?$/),
    value: z.unknown().optional(),
  }),
);

const PATCHABLE: Record<string, keyof NodeData> = {
  instance_info: 'instanceInfo',
  driver_info: 'driverInfo',
  properties: 'properties',
  automated_clean: 'automatedClean',
  name: 'name',
  maintenance: 'maintenance',
};

/** What the anonymous agent may see of a node (`ramdisk.py::convert_with_links`). */
function lookupNodeView(node: NodeData): Record<string, unknown> {
  const instanceInfo = maskSecrets(node.instanceInfo) as Record<string, unknown>;
  if ('image_url' in instanceInfo) instanceInfo.image_url = '******';
  const dii = { ...node.driverInternalInfo };
  if (dii.agent_secret_token) dii.agent_secret_token = '******';
  return { uuid: node.uuid, properties: node.properties, instance_info: instanceInfo, driver_internal_info: dii, links: [] };
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw new InvalidParameterValue(`Invalid ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export interface ConductorApiOptions {
  conductor: Conductor;
  logger?: boolean | object;
}

export function buildConductorApi(options: ConductorApiOptions): FastifyInstance {
  const { conductor } = options;
  const app = Fastify({ logger: (options.logger ?? false) as boolean });

  app.setErrorHandler((error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
    const status =
      statusOf(error) === 500 && (error as { statusCode?: number }).statusCode
        ? (error as { statusCode: number }).statusCode
        : statusOf(error);
    if (status >= 500) conductor.log.error({ err: error }, 'API request failed');
    return reply.code(status).send(errorBody(status, (error as Error).message));
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorBody(404, 'Resource could not be found.')));

  const versionDoc = () => ({
    id: 'v1',
    links: [{ href: `${conductor.conf.api.publicUrl}/v1/`, rel: 'self' }],
    status: 'CURRENT',
    min_version: MIN_API_VERSION,
    version: MAX_API_VERSION,
  });
  app.get('/', async () => ({
    name: 'OpenStack Ironic API',
    description: 'Ironic is an OpenStack project which enables the provision and management of baremetal machines.',
    default_version: versionDoc(),
    versions: [versionDoc()],
  }));
  app.get('/v1', async () => versionDoc());
  app.get('/v1/', async () => versionDoc());

  const requireRamdiskVersion = (request: FastifyRequest): [number, number] => {
    const version = parseVersion(request.headers['x-openstack-ironic-api-version']);
    if (!atLeast(version, 22)) throw new ApiError(404, 'Resource could not be found.');
    return version;
  };

  app.get('/v1/lookup', async (request) => {
    const version = requireRamdiskVersion(request);
    const query = request.query as { addresses?: string; node_uuid?: string };
    const addresses = (query.addresses ?? '')
      .split(',')
      .map((a) => a.trim().toLowerCase())
      .filter((a) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(a));
    const { node, token } = await conductor.lookup(addresses, query.node_uuid || undefined);
    const config: Record<string, unknown> = {
      metrics: { backend: 'noop', prepend_host: false, prepend_uuid: false, prepend_host_reverse: true, global_prefix: null },
      metrics_statsd: { statsd_host: 'localhost', statsd_port: 8125 },
      heartbeat_timeout: conductor.conf.api.ramdiskHeartbeatTimeout,
      agent_token: atLeast(version, 62) ? token : null,
      agent_token_required: true,
      // Ironic's defaults ([conductor] and [agent] options): the agent applies each.
      disable_deep_image_inspection: false,
      permitted_image_formats: ['raw', 'gpt', 'qcow2', 'iso'],
      agent_md5_checksum_enable: false,
      enable_bios_bootloader_install: false,
    };
    return { node: lookupNodeView(node), config };
  });

  app.post('/v1/heartbeat/:node', async (request, reply) => {
    const version = requireRamdiskVersion(request);
    const source = { ...(request.query as object), ...((request.body as object | undefined) ?? {}) };
    const body = parseBody(heartbeatSchema, source, 'heartbeat');
    if (body.agent_version != null && !atLeast(version, 36))
      throw new InvalidParameterValue('Field "agent_version" not recognised');
    if (body.agent_verify_ca != null && !atLeast(version, 68))
      throw new InvalidParameterValue('Field "agent_verify_ca" not recognised in this version');
    await conductor.heartbeat((request.params as { node: string }).node, {
      callbackUrl: body.callback_url,
      agentToken: body.agent_token ?? null,
      agentVersion: body.agent_version ?? null,
      agentVerifyCa: body.agent_verify_ca ?? null,
      agentStatus: body.agent_status ?? null,
      agentStatusMessage: body.agent_status_message ?? null,
    });
    return reply.code(202).send();
  });

  app.get('/v1/nodes', async () => ({
    nodes: conductor.store.getNodeinfoList({ fields: ['name', 'provisionState', 'powerState', 'maintenance'] }).map((n) => ({
      uuid: n.uuid,
      name: n.name,
      provision_state: n.provisionState,
      power_state: n.powerState,
      maintenance: n.maintenance,
    })),
  }));

  app.post('/v1/nodes', async (request, reply) => {
    const body = parseBody(nodeCreateSchema, request.body, 'node');
    const interfaces = Object.fromEntries(
      (['deploy', 'power', 'management', 'boot', 'bios', 'raid'] as const)
        .filter((k) => body[`${k}_interface`] !== undefined)
        .map((k) => [k, body[`${k}_interface`]]),
    );
    const node = conductor.createNode({
      ...(body.uuid ? { uuid: body.uuid } : {}),
      name: body.name ?? null,
      ...(body.driver ? { driver: body.driver } : {}),
      interfaces,
      driverInfo: body.driver_info ?? {},
      instanceInfo: body.instance_info ?? {},
      properties: body.properties ?? {},
      automatedClean: body.automated_clean ?? null,
    });
    return reply.code(201).send(nodeToApi(node));
  });

  app.get('/v1/nodes/:node', async (request) => {
    const node = conductor.store.getNode((request.params as { node: string }).node);
    const view = nodeToApi(node);
    const fields = (request.query as { fields?: string }).fields;
    if (!fields) return view;
    return Object.fromEntries(fields.split(',').map((f) => [f.trim(), view[f.trim()]]));
  });

  app.patch('/v1/nodes/:node', async (request) => {
    const ops = parseBody(patchSchema, request.body, 'patch');
    for (const op of ops) {
      const top = op.path.split('/')[1]!;
      if (!PATCHABLE[top]) throw new InvalidParameterValue(`Cannot patch /${top}`);
    }
    const node = await updateNode(conductor, (request.params as { node: string }).node, (node) => {
      for (const op of ops) {
        const [, top, key] = op.path.split('/') as [string, string, string | undefined];
        const field = PATCHABLE[top]!;
        const record = node as unknown as Record<string, unknown>;
        if (key === undefined) {
          record[field] = op.op === 'remove' ? null : op.value;
        } else {
          const target = { ...(record[field] as Record<string, unknown>) };
          if (op.op === 'remove') delete target[key];
          else target[key] = op.value;
          record[field] = target;
        }
      }
    });
    return nodeToApi(node);
  });

  app.delete('/v1/nodes/:node', async (request, reply) => {
    await destroyNode(conductor, (request.params as { node: string }).node);
    return reply.code(204).send();
  });

  app.post('/v1/ports', async (request, reply) => {
    const body = parseBody(z.object({ node_uuid: z.string(), address: z.string() }), request.body, 'port');
    const node = conductor.store.getNode(body.node_uuid);
    const port = conductor.store.createPort(node.uuid, body.address);
    return reply.code(201).send({ uuid: port.uuid, node_uuid: port.nodeUuid, address: port.address });
  });

  app.put('/v1/nodes/:node/states/provision', async (request, reply) => {
    const body = parseBody(
      z.object({
        target: z.string(),
        clean_steps: z.unknown().optional(),
        deploy_steps: z.unknown().optional(),
        disable_ramdisk: z.boolean().optional(),
      }),
      request.body,
      'provision request',
    );
    await conductor.provision((request.params as { node: string }).node, body.target, {
      cleanSteps: body.clean_steps,
      deploySteps: body.deploy_steps,
      ...(body.disable_ramdisk !== undefined ? { disableRamdisk: body.disable_ramdisk } : {}),
    });
    return reply.code(202).send();
  });

  // `baremetal node set --target-raid-config` (API 1.12+): validated with Ironic's RAID schema
  // (the agent validates the software RAID rules when it builds); `{}` clears the target.
  app.put('/v1/nodes/:node/states/raid', async (request, reply) => {
    if (!atLeast(parseVersion(request.headers['x-openstack-ironic-api-version']), 12))
      throw new ApiError(404, 'The requested version of the API does not support this resource');
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (Object.keys(body).length > 0) validateRaidConfiguration(body);
    await updateNode(conductor, (request.params as { node: string }).node, (node) => {
      node.targetRaidConfig = body as NodeData['targetRaidConfig'];
    });
    return reply.code(204).send();
  });

  app.put('/v1/nodes/:node/states/power', async (request, reply) => {
    const body = parseBody(z.object({ target: z.string() }), request.body, 'power request');
    await conductor.setPowerState((request.params as { node: string }).node, body.target);
    return reply.code(202).send();
  });

  return app;
}
