/**
 * Stock Ironic's `fake` power interface only records the power state on the node. This
 * hook makes it real for the e2e VM: it follows the node (every 250 ms) and applies each new
 * power action Ironic records (`driver_internal_info.last_power_state_change`) to the VM with
 * the `qemu` power interface: "power on" after a change starts the VM, or resets it when it
 * runs (a reboot); "power off" ends it.
 */
import { QemuPower } from '../../../src/conductor/drivers/qemu-power.js';
import { states } from '../../../src/conductor/states.js';
import type { Task } from '../../../src/conductor/task.js';
import { silentLogger } from '../../../src/shared/logger.js';
import type { IronicConductor } from '../../interop/harness/ironic-conductor.js';

export class IronicPowerHook {
  readonly actions: string[] = [];
  #lastChange: unknown;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #error: unknown;

  constructor(
    readonly ironic: IronicConductor,
    readonly nodeUuid: string,
    driverInfo: Record<string, unknown>,
    readonly say: (line: string) => void,
  ) {
    this.#task = {
      node: { uuid: nodeUuid, name: null, driverInfo },
      ports: [],
      conductor: { log: silentLogger },
    } as unknown as Task;
  }

  readonly #task: Task;
  readonly #power = new QemuPower();

  start(initialChange: unknown): void {
    this.#lastChange = initialChange;
    this.#loop = this.#run();
  }

  /** Fails the scenario when the hook could not apply an action. */
  check(): void {
    if (this.#error) throw this.#error;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        const node = await this.ironic.node(this.nodeUuid);
        const change = node.driver_internal_info.last_power_state_change;
        // Ironic stamps the change before it records the new state: act once it has settled.
        if (change !== undefined && change !== this.#lastChange && !node.target_power_state) {
          this.#lastChange = change;
          const running = (await this.#power.getPowerState(this.#task)) === states.POWER_ON;
          if (node.power_state === states.POWER_ON) {
            this.actions.push(running ? 'reset' : 'start');
            this.say(`power hook: Ironic powered the node on → ${running ? 'reset (reboot)' : 'start'} the VM`);
            if (running) await this.#power.reboot(this.#task);
            else await this.#power.setPowerState(this.#task, states.POWER_ON);
          } else if (node.power_state === states.POWER_OFF) {
            this.actions.push('stop');
            this.say(`power hook: Ironic powered the node off → ${running ? 'stop the VM' : 'the VM is already off'}`);
            await this.#power.setPowerState(this.#task, states.POWER_OFF);
          }
        }
      } catch (error) {
        this.#error = error;
        this.say(`power hook failed: ${(error as Error).message}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}
