/**
 * One interop test file's world: a stock Ironic conductor (started once per file), fake-
 * hardware nodes wired for our agent, our agent as a child process, and the scratch loop
 * devices it may touch. cleanupScenario() (afterEach) stops agents, frees the nodes' MACs and
 * detaches devices; teardown() (afterAll) also stops Ironic. Both run even when a test fails.
 */
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { run } from '../../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../../src/hardware/inventory/interfaces.js';
import { ScratchDevices, type ScratchOptions, type ScratchDevice } from '../../helpers/loop-devices.js';
import { AgentProcess, type AgentProcessOptions } from './agent-process.js';
import { IronicConductor, type IronicNode } from './ironic-conductor.js';
import { interopSkipReason } from './ironic-install.js';

/**
 * The node of the issue: fake power/boot (nothing out-of-band exists), `noop` management
 * (fake's only boot device is pxe, which fails direct deploy's prepare_instance_boot),
 * `direct` deploy, `agent` RAID, and a forced out-of-band reboot at the end of a deploy
 * (the conductor asks the agent for `standby.sync`, then powers off itself).
 */
const AGENT_DRIVEN_NODE = {
  driver: 'fake-hardware',
  boot_interface: 'fake',
  deploy_interface: 'direct',
  power_interface: 'fake',
  management_interface: 'noop',
  network_interface: 'noop',
  storage_interface: 'noop',
  raid_interface: 'agent',
  bios_interface: 'no-bios',
  inspect_interface: 'no-inspect',
  vendor_interface: 'no-vendor',
  driver_info: { deploy_forces_oob_reboot: true },
} as const;

export class InteropSuite {
  readonly devices = new ScratchDevices();
  readonly #agents: AgentProcess[] = [];
  readonly #ports: string[] = [];

  private constructor(
    readonly ironic: IronicConductor,
    /** A MAC the agent reports in its lookup: the node's port gets it. */
    readonly mac: string,
  ) {}

  static async start(options: { ironicOverrides?: string } = {}): Promise<InteropSuite> {
    const interfaces = await listNetworkInterfaces({ exec: (file, args, opts) => run(file, args, opts) });
    const mac = interfaces.map((i) => i.mac_address).find((m): m is string => typeof m === 'string' && m.length > 0);
    if (!mac) {
      throw new Error(
        'the agent would look up with no MAC address (no physical NIC here), so Ironic could never match it to a node',
      );
    }
    const ironic = await IronicConductor.start({ ...(options.ironicOverrides ? { overrides: options.ironicOverrides } : {}) });
    const suite = new InteropSuite(ironic, mac);
    liveSuites.add(suite);
    return suite;
  }

  /** Enroll a node with our MAC on its port and bring it to `manageable`. */
  async manageableNode(name: string, fields: Record<string, unknown> = {}): Promise<IronicNode> {
    const node = await this.ironic.createNode({ name, ...AGENT_DRIVEN_NODE, ...fields });
    await this.ironic.createPort(node.uuid, this.mac);
    this.#ports.push(node.uuid);
    await this.ironic.setProvisionState(node.uuid, 'manage');
    return this.ironic.waitForProvisionState(node.uuid, 'manageable', { timeoutMs: 30_000 });
  }

  scratchDevice(options: ScratchOptions): ScratchDevice {
    const device = this.devices.create(options);
    if (!device.isLoop) throw new Error('interop scenarios need loop devices (root, /dev/loop-control)');
    return device;
  }

  /** Boot "the ramdisk": our agent, pointed at this conductor. */
  async startAgent(options: Omit<AgentProcessOptions, 'apiUrl'>): Promise<AgentProcess> {
    const agent = await AgentProcess.start({ apiUrl: this.ironic.url, ...options });
    this.#agents.push(agent);
    return agent;
  }

  /** After each scenario, pass or fail: agents stopped, MACs freed for the next node, devices detached. */
  async cleanupScenario(): Promise<void> {
    const errors: unknown[] = [];
    for (const agent of this.#agents.splice(0)) await agent.stop().catch((e: unknown) => errors.push(e));
    for (const uuid of this.#ports.splice(0)) {
      // A port's MAC must be unique: the next scenario's node needs it. Nodes stay for the log.
      const ports = await this.ironic.request('GET', `/v1/ports?node=${uuid}`).catch((e: unknown) => (errors.push(e), undefined));
      for (const port of (ports?.json as { ports?: { uuid: string }[] } | undefined)?.ports ?? []) {
        const deleted = await this.ironic
          .request('DELETE', `/v1/ports/${port.uuid}`)
          .catch((e: unknown) => (errors.push(e), undefined));
        if (deleted && deleted.status !== 204)
          errors.push(new Error(`deleting port ${port.uuid}: ${deleted.status} ${JSON.stringify(deleted.json)}`));
      }
    }
    try {
      this.devices.cleanup();
    } catch (error) {
      errors.push(error);
    }
    if (errors.length > 0) throw new AggregateError(errors, 'interop cleanup failed');
  }

  async teardown(): Promise<void> {
    liveSuites.delete(this);
    try {
      await this.cleanupScenario();
    } finally {
      await this.ironic.stop();
    }
  }
}

// A test process that dies without afterAll must still not leave loop devices attached.
const liveSuites = new Set<InteropSuite>();
process.once('exit', () => {
  for (const suite of liveSuites) {
    try {
      suite.devices.cleanup();
    } catch {
      // best effort on the way out
    }
  }
});

/** Run `body`, print how long it took as `[interop] <name>: N.N s`, and return its result. */
export async function timedScenario<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let outcome = 'failed';
  try {
    const result = await body();
    outcome = 'passed';
    return result;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`[interop] ${name}: ${seconds.toFixed(1)} s (${outcome})\n`);
  }
}

/**
 * One interop test file's frame: skipped with the reason when the stock conductor is not
 * installed; otherwise one conductor for the file, scenario resources cleaned after each
 * test and everything torn down at the end, even when a test fails. Tests are declared
 * before the conductor starts, so `body` gets a stand-in that forwards to the live suite.
 */
export function describeInterop(title: string, body: (suite: InteropSuite) => void): void {
  const skipReason = interopSkipReason();
  describe.skipIf(skipReason)(`interop: ${title}${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
    let started: InteropSuite | undefined;
    beforeAll(async () => {
      started = await InteropSuite.start();
    }, 120_000);
    afterEach(async () => {
      await started?.cleanupScenario();
    }, 60_000);
    afterAll(async () => {
      await started?.teardown();
    }, 60_000);
    const live = (): InteropSuite => {
      if (!started) throw new Error('the interop suite has not started');
      return started;
    };
    body(
      new Proxy({} as InteropSuite, {
        get(_target, key) {
          const suite = live();
          const value: unknown = Reflect.get(suite, key, suite);
          return typeof value === 'function' ? value.bind(suite) : value;
        },
      }),
    );
  });
}
