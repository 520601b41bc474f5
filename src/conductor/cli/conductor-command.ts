/**
 * `ramdisk-agent conductor <command>`: serve the conductor, and drive it (enroll, clean,
 * deploy, abort, node show/list) over its HTTP API, as `baremetal` does for Ironic.
 */
import { networkInterfaces } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { ConductorApiClient, DEFAULT_CONDUCTOR_URL } from './api-client.js';
import { parse, UsageError } from './cli-args.js';
import { startConductorService } from './serve.js';
import { serveOptions } from './serve-options.js';
import { waitForProvisionEnd } from './wait.js';

export { UsageError } from './cli-args.js';

const CONDUCTOR_USAGE = `Usage: ramdisk-agent conductor <command> [options]

Commands:
  serve                      run the conductor (API on 127.0.0.1:6385, nodes in SQLite)
      --listen HOST:PORT       where to serve (default 127.0.0.1:6385)
      --db FILE                SQLite file (default ./ramdisk-agent-conductor.sqlite)
      --heartbeat-timeout S    heartbeat_timeout given to agents at lookup (default 300)
      --fast-track             keep a running agent between cleaning and deploying
      --boot-mode uefi|bios    default boot mode of deployed instances (default uefi)
      --power-off-wait N,S     tear_down_agent: N power-state checks S seconds apart (default 6,5)
      --deploy-logs DIR        store the agent's logs there when a step fails
      --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (default info)
      --erase-devices-priority N            [deploy]erase_devices_priority (default: the agent's, 10;
                                            0 keeps the full disk erase out of automated cleaning)
      --erase-devices-metadata-priority N   [deploy]erase_devices_metadata_priority (agent's: 99)
      --clean-step-priority-override IFACE.STEP:N   [conductor]clean_step_priority_override (repeatable)
      --no-automated-clean     [conductor]automated_clean=False: provide skips cleaning
                               unless the node says automated_clean=true
      How erase_devices erases (Ironic's [deploy] options, given to the agent):
      --shred-random-overwrite-iterations N   random passes where no secure erase (default 1)
      --no-shred-final-overwrite-with-zeros   no final pass of zeros
      --continue-if-disk-secure-erase-fails   shred a disk whose secure erase failed
      --no-ata-secure-erase  --no-nvme-secure-erase   always shred instead
      --disk-erasure-concurrency N            disks erased at once (default 1)
      --erase-skip-read-only                  skip read-only disks instead of failing
  enroll                     add a node and make it manageable; prints its UUID
      --name NAME  --mac MAC (repeatable; default: this machine's MACs)
      --deploy-interface direct|custom-agent   --no-automated-clean
      --power-interface fake|qemu (default fake; qemu: a QEMU VM, see README)
      --property KEY=JSON (repeatable)  --driver-info KEY=JSON (repeatable)
  clean NODE                 automated cleaning (manageable -> available), or with
      --steps JSON|@FILE       manual cleaning of exactly these steps, in this order
      --wait                   wait for the end, showing the state changes
  deploy NODE --image URL (--checksum HEX | --os-hash ALGO:HEX) [--wait]
  abort NODE                 abort cleaning (the current step if abortable, else after it)
  node show NODE [-f json|table] [-c FIELD]...
  node list

Client commands talk to --url URL (default ${DEFAULT_CONDUCTOR_URL}, or $RAMDISK_AGENT_CONDUCTOR_URL).
`;

function keyValues(values: string[] | undefined, flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of values ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects KEY=VALUE, got "${item}"`);
    const raw = item.slice(eq + 1);
    try {
      out[item.slice(0, eq)] = JSON.parse(raw);
    } catch {
      out[item.slice(0, eq)] = raw;
    }
  }
  return out;
}

/**
 * MAC addresses of this machine's NICs: what a local agent looks itself up with. The kernel's
 * list (/sys/class/net) also has interfaces without an IP address, which Node's does not.
 */
export function localMacs(): string[] {
  const macs = new Set<string>();
  const add = (mac: string | undefined) => {
    const value = (mac ?? '').trim().toLowerCase();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(value) && value !== '00:00:00:00:00:00') macs.add(value);
  };
  try {
    for (const name of readdirSync('/sys/class/net')) {
      if (name === 'lo') continue;
      try {
        add(readFileSync(`/sys/class/net/${name}/address`, 'utf8'));
      } catch {
        // an interface that went away while we listed
      }
    }
  } catch {
    // no sysfs (not Linux): Node's view below
  }
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (!a.internal) add(a.mac);
  }
  return [...macs].sort();
}

async function serve(argv: string[]): Promise<number> {
  const options = serveOptions(argv);
  // Listen for the stop signal before the API is up: a supervisor may send it as soon as the
  // port answers, and an uncaught SIGTERM would end the process without closing the store.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const service = await startConductorService(options);
  await stopRequested;
  await service.close();
  return 0;
}

export async function enrollNode(
  client: ConductorApiClient,
  options: {
    name?: string;
    macs: string[];
    deployInterface?: string;
    powerInterface?: string;
    automatedClean?: boolean;
    properties?: Record<string, unknown>;
    driverInfo?: Record<string, unknown>;
  },
): Promise<Record<string, any>> {
  const node = await client.request<Record<string, any>>('POST', '/v1/nodes', {
    ...(options.name ? { name: options.name } : {}),
    driver: 'fake-hardware',
    deploy_interface: options.deployInterface ?? 'direct',
    power_interface: options.powerInterface ?? 'fake',
    management_interface: 'noop',
    boot_interface: 'fake',
    raid_interface: 'agent',
    ...(options.automatedClean === false ? { automated_clean: false } : {}),
    properties: options.properties ?? {},
    driver_info: options.driverInfo ?? {},
  });
  for (const mac of options.macs) await client.request('POST', '/v1/ports', { node_uuid: node.uuid, address: mac });
  await client.setProvisionState(node.uuid as string, 'manage');
  return client.getNode(node.uuid as string);
}

async function enroll(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parse(argv, {
    name: { type: 'string' },
    mac: { type: 'string', multiple: true },
    'deploy-interface': { type: 'string' },
    'power-interface': { type: 'string' },
    'no-automated-clean': { type: 'boolean' },
    property: { type: 'string', multiple: true },
    'driver-info': { type: 'string', multiple: true },
  });
  const client = new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL);
  const macs = (values.mac as string[] | undefined) ?? localMacs();
  const node = await enrollNode(client, {
    ...(values.name ? { name: values.name as string } : {}),
    macs,
    ...(values['deploy-interface'] ? { deployInterface: values['deploy-interface'] as string } : {}),
    ...(values['power-interface'] ? { powerInterface: values['power-interface'] as string } : {}),
    automatedClean: values['no-automated-clean'] !== true,
    properties: keyValues(values.property as string[] | undefined, '--property'),
    driverInfo: keyValues(values['driver-info'] as string[] | undefined, '--driver-info'),
  });
  out.write(`${node.uuid}\n`);
  return 0;
}

function readSteps(value: string): unknown {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--steps is not valid JSON: ${(error as Error).message}`);
  }
}

async function finish(
  client: ConductorApiClient,
  node: string,
  from: string,
  wait: boolean,
  out: NodeJS.WritableStream,
): Promise<number> {
  if (!wait) return 0;
  const end = await waitForProvisionEnd(client, node, { from, onChange: (state) => out.write(`${node}: ${state}\n`) });
  if (end.last_error) out.write(`last_error: ${end.last_error}\n`);
  return end.provision_state.endsWith('failed') ? 1 : 0;
}

async function clean(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(argv, { steps: { type: 'string' }, wait: { type: 'boolean' } }, 1);
  const client = new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL);
  const node = positionals[0]!;
  const from = (await client.getNode(node, ['provision_state'])).provision_state as string;
  if (values.steps) await client.setProvisionState(node, 'clean', { clean_steps: readSteps(values.steps as string) });
  else await client.setProvisionState(node, 'provide');
  return finish(client, node, from, values.wait === true, out);
}

async function deploy(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { image: { type: 'string' }, checksum: { type: 'string' }, 'os-hash': { type: 'string' }, wait: { type: 'boolean' } },
    1,
  );
  if (!values.image) throw new UsageError('deploy needs --image URL');
  if (!values.checksum && !values['os-hash']) throw new UsageError('deploy needs --checksum HEX or --os-hash ALGO:HEX');
  const client = new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL);
  const node = positionals[0]!;
  const ops: Array<{ op: 'add'; path: string; value: unknown }> = [
    { op: 'add', path: '/instance_info/image_source', value: values.image },
  ];
  if (values['os-hash']) {
    const [algo, hex] = (values['os-hash'] as string).split(':', 2);
    if (!algo || !hex) throw new UsageError('--os-hash expects ALGO:HEX, e.g. sha256:9f86d0…');
    ops.push(
      { op: 'add', path: '/instance_info/image_os_hash_algo', value: algo },
      { op: 'add', path: '/instance_info/image_os_hash_value', value: hex },
    );
  } else {
    ops.push({ op: 'add', path: '/instance_info/image_checksum', value: values.checksum });
  }
  const from = (await client.getNode(node, ['provision_state'])).provision_state as string;
  await client.patchNode(node, ops);
  await client.setProvisionState(node, 'active');
  return finish(client, node, from, values.wait === true, out);
}

async function abort(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 1);
  await new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL).setProvisionState(
    positionals[0]!,
    'abort',
  );
  return 0;
}

async function nodeCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'list') {
    const { values } = parse(rest, {});
    const { nodes } = await new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL).request<{
      nodes: Array<Record<string, unknown>>;
    }>('GET', '/v1/nodes');
    out.write(`${'UUID'.padEnd(38)}${'Name'.padEnd(16)}${'Provision State'.padEnd(18)}${'Power State'.padEnd(13)}Maintenance\n`);
    for (const n of nodes) {
      out.write(
        `${String(n.uuid).padEnd(38)}${String(n.name ?? '').padEnd(16)}${String(n.provision_state).padEnd(18)}${String(n.power_state ?? 'None').padEnd(13)}${n.maintenance ? 'True' : 'False'}\n`,
      );
    }
    return 0;
  }
  if (sub !== 'show') throw new UsageError('node: "show NODE" or "list"');
  const { values, positionals } = parse(
    rest,
    { format: { type: 'string', short: 'f' }, column: { type: 'string', short: 'c', multiple: true } },
    1,
  );
  const client = new ConductorApiClient((values.url as string | undefined) ?? DEFAULT_CONDUCTOR_URL);
  const columns = values.column as string[] | undefined;
  const node = await client.getNode(positionals[0]!, columns);
  if ((values.format ?? 'table') === 'json') {
    out.write(`${JSON.stringify(node, null, 2)}\n`);
  } else {
    const width = Math.max(...Object.keys(node).map((k) => k.length));
    for (const [k, v] of Object.entries(node))
      out.write(`${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}\n`);
  }
  return 0;
}

export async function runConductorCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === undefined ||
    command === 'help' ||
    command === '--help' ||
    command === '-h' ||
    rest.includes('--help') ||
    rest.includes('-h')
  ) {
    out.write(CONDUCTOR_USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'enroll':
      return enroll(rest, out);
    case 'clean':
      return clean(rest, out);
    case 'deploy':
      return deploy(rest, out);
    case 'abort':
      return abort(rest);
    case 'node':
      return nodeCommand(rest, out);
    default:
      throw new UsageError(`unknown conductor command "${command}"`);
  }
}
