/**
 * The agent's HTTP API as an OpenAPI 3.1 document, derived from what the agent serves: the
 * routes of `http/routes.ts` and every command's zod params schema (`z.toJSONSchema`), so a
 * conductor other than Ironic can rely on it. `scripts/agent-api-doc.ts` writes it (and a
 * markdown rendering) to docs/; a test fails when a route or command is not described.
 */
import { z } from 'zod';
import type { Extension } from './command.js';

type JsonSchema = Record<string, unknown>;

/** A route of `http/routes.ts` in OpenAPI path syntax, without its unversioned alias. */
interface DescribedRoute {
  method: 'get' | 'post';
  path: string;
  summary: string;
  token: 'none' | 'read' | 'command';
}

/**
 * Every route the agent serves under `/v1`. Each `/v1/...` route also answers without the
 * prefix (IPA's alias), and `/v1/commands` (no slash) redirects to `/v1/commands/` (308).
 */
const DESCRIBED_ROUTES: readonly DescribedRoute[] = [
  { method: 'get', path: '/', summary: 'API versions (IPA root document)', token: 'none' },
  { method: 'get', path: '/v1/', summary: 'The v1 API document', token: 'none' },
  { method: 'get', path: '/v1/status', summary: 'Agent start time and version', token: 'none' },
  { method: 'get', path: '/v1/commands/', summary: 'Every command run since start, oldest first', token: 'read' },
  { method: 'post', path: '/v1/commands/', summary: 'Run a command', token: 'command' },
  { method: 'get', path: '/v1/commands/{id}', summary: 'One command result', token: 'read' },
];

const FAULT: JsonSchema = {
  type: 'object',
  description: "IPA's error body. Command-layer errors carry IPA's text (\"Agent is busy: ...\"); routing errors werkzeug's.",
  properties: { faultcode: { enum: ['Client', 'Server'] }, faultstring: { type: 'string' } },
  required: ['faultcode', 'faultstring'],
};

const WIRE_ERROR: JsonSchema = {
  type: 'object',
  description: "An IPA error as stored in a command result: `type` is IPA's class name.",
  properties: {
    type: { type: 'string' },
    code: { type: 'integer' },
    message: { type: 'string' },
    details: { type: 'string' },
  },
  required: ['type', 'code', 'message', 'details'],
};

const COMMAND_RESULT: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    command_name: { type: 'string', description: 'the command without its extension, e.g. execute_clean_step' },
    command_status: { enum: ['RUNNING', 'SUCCEEDED', 'FAILED', 'VERSION_MISMATCH', 'CLEAN_VERSION_MISMATCH'] },
    command_error: { anyOf: [{ $ref: '#/components/schemas/WireError' }, { type: 'null' }] },
    command_result: { description: 'the command’s result (for steps: `{"clean_result": ..., "clean_step": {...}}`)' },
    command_progress: { description: 'what the running step reported (ramdisk-agent addition; IPA clients ignore it)' },
  },
  required: ['id', 'command_name', 'command_status', 'command_error', 'command_result'],
};

function paramsSchema(schema: z.ZodType): JsonSchema {
  // Input side: what a conductor sends (defaults optional, before transforms).
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** `POST /v1/commands/` bodies, one per command: `{"name": "<extension>.<command>", "params": {...}}`. */
function commandBodies(extensions: readonly Extension[]): Record<string, JsonSchema> {
  const bodies: Record<string, JsonSchema> = {};
  for (const extension of extensions) {
    for (const command of extension.commands) {
      const name = `${extension.name}.${command.name}`;
      bodies[name] = {
        type: 'object',
        description: command.mode === 'async' ? 'asynchronous: answered at once with a RUNNING result' : 'synchronous',
        properties: { name: { const: name }, params: paramsSchema(command.params) },
        required: ['name', 'params'],
      };
    }
  }
  return bodies;
}

function tokenParameter(token: DescribedRoute['token']): JsonSchema[] {
  if (token === 'none') return [];
  return [
    {
      name: 'agent_token',
      in: 'query',
      required: token === 'command',
      description:
        token === 'command'
          ? 'the token from lookup; missing or wrong is 401'
          : 'required once a read has carried the right token (conductors before 2025.1 never send it here)',
      schema: { type: 'string' },
    },
  ];
}

const WAIT_PARAMETER = {
  name: 'wait',
  in: 'query',
  required: false,
  description: '`true`: answer when the command has finished',
  schema: { enum: ['true', 'false'] },
};

const json = (schema: JsonSchema, description: string) => ({ description, content: { 'application/json': { schema } } });
const fault = (description: string) => json({ $ref: '#/components/schemas/Fault' }, description);

function operation(route: DescribedRoute, commandNames: readonly string[]): JsonSchema {
  const op: JsonSchema = {
    summary: route.summary,
    parameters: [...tokenParameter(route.token)],
    responses: { '200': json({ type: 'object' }, 'OK') } as Record<string, unknown>,
  };
  const responses = op.responses as Record<string, unknown>;
  if (route.token !== 'none') responses['401'] = fault('Token invalid.');
  if (route.path === '/v1/commands/' && route.method === 'get') {
    responses['200'] = json(
      { type: 'object', properties: { commands: { type: 'array', items: { $ref: '#/components/schemas/CommandResult' } } } },
      'the command results',
    );
  }
  if (route.path === '/v1/commands/{id}') {
    (op.parameters as unknown[]).unshift({ name: 'id', in: 'path', required: true, schema: { type: 'string' } });
    (op.parameters as unknown[]).push(WAIT_PARAMETER);
    responses['200'] = json({ $ref: '#/components/schemas/CommandResult' }, 'the command result');
    responses['404'] = fault('no command with this id');
  }
  if (route.path === '/v1/commands/' && route.method === 'post') {
    (op.parameters as unknown[]).push(WAIT_PARAMETER);
    op.requestBody = {
      required: true,
      content: {
        'application/json': {
          schema: { oneOf: commandNames.map((name) => ({ $ref: `#/components/schemas/${commandSchemaName(name)}` })) },
        },
      },
    };
    responses['200'] = json({ $ref: '#/components/schemas/CommandResult' }, 'RUNNING (async) or finished');
    responses['400'] = fault('bad body, unknown command or invalid params ("Invalid command parameters: ...")');
    responses['404'] = fault('unknown extension');
    responses['409'] = fault('another command is still RUNNING ("Agent is busy")');
  }
  return op;
}

function commandSchemaName(name: string): string {
  return `Command_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export function describeAgentApi(extensions: readonly Extension[], version: string): JsonSchema {
  const bodies = commandBodies(extensions);
  const names = Object.keys(bodies).sort();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of DESCRIBED_ROUTES) (paths[route.path] ??= {})[route.method] = operation(route, names);
  const schemas: Record<string, JsonSchema> = { Fault: FAULT, WireError: WIRE_ERROR, CommandResult: COMMAND_RESULT };
  for (const name of names) schemas[commandSchemaName(name)] = bodies[name]!;
  return {
    openapi: '3.1.0',
    info: {
      title: 'ramdisk-agent API (ironic-python-agent compatible)',
      version,
      description:
        'Every /v1 path is also served without the /v1 prefix. Errors are {"faultcode", "faultstring"} with the error’s status code.',
    },
    paths,
    components: { schemas },
  };
}

function typeOf(schema: JsonSchema | undefined): string {
  if (!schema) return 'any';
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).map(typeOf).join(' \\| ');
  if (schema.type === 'array') return `${typeOf(schema.items as JsonSchema | undefined)}[]`;
  return typeof schema.type === 'string' ? schema.type : 'any';
}

/** docs/agent-api.md: the same document as tables, for reading. */
export function renderApiMarkdown(document: JsonSchema): string {
  const doc = document as {
    info: { title: string; description: string };
    paths: Record<string, Record<string, { summary: string; parameters: { name: string }[] }>>;
    components: { schemas: Record<string, JsonSchema> };
  };
  const lines = [
    `# ${doc.info.title}`,
    '',
    'Generated from the routes and the commands’ zod schemas by `npm run api-doc` (also run by',
    '`make build`); `docs/agent-api.openapi.json` is the OpenAPI 3.1 document. A test fails when a',
    'route or command is served but not described here.',
    '',
    doc.info.description,
    '',
    '## Routes',
    '',
    '| method | path | what | query |',
    '| --- | --- | --- | --- |',
  ];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const query = op.parameters.map((p) => `\`${p.name}\``).join(', ');
      lines.push(`| ${method.toUpperCase()} | \`${path}\` | ${op.summary} | ${query} |`);
    }
  }
  lines.push('', '## Commands', '', 'Each is `POST /v1/commands/` with `{"name": "<name>", "params": {...}}`.', '');
  for (const [key, schema] of Object.entries(doc.components.schemas)) {
    if (!key.startsWith('Command_')) continue;
    const props = schema.properties as { name: { const: string }; params: JsonSchema };
    const params = (props.params.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((props.params.required ?? []) as string[]);
    lines.push(`### \`${props.name.const}\``, '', `${String(schema.description)}.`, '');
    if (Object.keys(params).length === 0) {
      lines.push('No params (`{}`).', '');
      continue;
    }
    lines.push('| param | type | required | description |', '| --- | --- | --- | --- |');
    for (const [name, param] of Object.entries(params)) {
      const description = String(param.description ?? '').replace(/\|/g, '\\|');
      lines.push(`| \`${name}\` | ${typeOf(param)} | ${required.has(name) ? 'yes' : 'no'} | ${description} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
