/**
 * What the stock-Ironic scenarios set up alike: Ironic 21.4 (test/interop's conductor) with
 * the scenario's overrides and the QEMU world, started before the scenario's tests and torn
 * down after them (the power hook first), and the VM enrolled as a fake-hardware node whose
 * power actions the hook applies to the VM (harness/ironic-power-hook.ts).
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { IronicConductor, type IronicNode } from '../../interop/harness/ironic-conductor.js';
import { IronicPowerHook } from './ironic-power-hook.js';
import { E2E_MAC, E2eWorld, type WorldOptions } from './world.js';

export const PHASE_TIMEOUT_MS = 300_000;

export interface EnrolledNode {
  node: IronicNode;
  hook: IronicPowerHook;
  /**
   * Waits until the node is in one of `states` (a phase's timeout), fails early on one of
   * `failOn`, then checks the hook applied every power action and Ironic recorded no error.
   */
  wait(states: string[], failOn: string[]): Promise<IronicNode>;
  /** The VM's console and Ironic's log file, for an assertion's message. */
  failure(): string;
}

export class StockIronicScenario {
  #ironic: IronicConductor | undefined;
  #world: E2eWorld | undefined;
  #hook: IronicPowerHook | undefined;

  /** Call inside the scenario's describe: registers its beforeAll and afterAll. */
  constructor(label: string, ironicOverrides: string, worldOptions: WorldOptions = {}) {
    beforeAll(async () => {
      this.#ironic = await IronicConductor.start({ overrides: ironicOverrides });
      // The watch in front of Ironic's API is the guest's ipa-api-url.
      this.#world = await E2eWorld.create(label, this.#ironic.port, worldOptions);
    }, 180_000);
    afterAll(async () => {
      await this.#hook?.stop();
      await this.#world?.teardown(async () => this.#ironic?.stop());
    }, 60_000);
  }

  get ironic(): IronicConductor {
    if (!this.#ironic) throw new Error('Ironic has not started (beforeAll failed)');
    return this.#ironic;
  }

  get world(): E2eWorld {
    if (!this.#world) throw new Error('the e2e world was not created (beforeAll failed)');
    return this.#world;
  }

  /** The VM as a fake-hardware node (direct deploy) with its port, `fields` added or overriding. */
  async enrol(fields: Record<string, unknown>): Promise<EnrolledNode> {
    const { ironic, world } = this;
    const node = await ironic.createNode({
      driver: 'fake-hardware',
      boot_interface: 'fake',
      deploy_interface: 'direct',
      power_interface: 'fake',
      management_interface: 'noop',
      network_interface: 'noop',
      ...fields,
    });
    await ironic.createPort(node.uuid, E2E_MAC);
    const hook = new IronicPowerHook(ironic, node.uuid, world.vm.driverInfo(), (line) => world.timeline.say(line));
    this.#hook = hook;
    hook.start(node.driver_internal_info.last_power_state_change);
    const failure = () => `${world.failureContext()}\n--- Ironic log: ${ironic.logFile}`;
    const wait = async (states: string[], failOn: string[]) => {
      const done = await ironic.waitForProvisionState(node.uuid, states, { timeoutMs: PHASE_TIMEOUT_MS, failOn });
      hook.check();
      expect(done.last_error, failure()).toBeNull();
      return done;
    };
    return { node, hook, wait, failure };
  }
}
