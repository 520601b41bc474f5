/**
 * Stock Ironic's `fake` power interface only records the power state on the node. This
 * hook makes it real for the e2e VM: it follows the node (every 250 ms) and applies each new
 * power action Ironic records (`driver_internal_info.last_power_state_change`) to the VM with
 * the `qemu` power interface: "power on" after a change starts the VM, or resets it when it
 * runs (a reboot); "power off" ends it.
 *
 * Ironic's agent rescue and unrescue power the node off, then write `power on` on the node
 * without a power action (agent.py: "Revealing that the power is off at any time can cause
 * external power sync to ...") before asking for power on. A real power driver reads the
 * machine's state, finds it off and powers it on; `fake` power reads back the recorded
 * `power on` and skips the action, so no new change is stamped. The hook does what the real
 * driver would: a recorded off → on without a change starts the VM.
 */
import { QemuPower } from '../../../src/conductor/drivers/qemu-power.js';
import { states } from '../../../src/conductor/states.js';
import type { Task } from '../../../src/conductor/task.js';
import { silentLogger } from '../../../src/shared/logger.js';
import type { IronicConductor } from '../../interop/harness/ironic-conductor.js';

export class IronicPowerHook {
  readonly actions: string[] = [];
  #lastChange: unknown;
  #lastPowerState: string | null | undefined;
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
        const recordedOn =
          change === this.#lastChange &&
          this.#lastPowerState === states.POWER_OFF &&
          node.power_state === states.POWER_ON &&
          !node.target_power_state;
        if (!node.target_power_state) this.#lastPowerState = node.power_state;
        if (recordedOn) {
          if ((await this.#power.getPowerState(this.#task)) !== states.POWER_ON) {
            this.actions.push('start');
            this.say('power hook: Ironic recorded the node on (rescue/unrescue, no power action) → start the VM');
            await this.#power.setPowerState(this.#task, states.POWER_ON);
          }
        } else if (change !== undefined && change !== this.#lastChange && !node.target_power_state) {
          // Ironic stamps the change before it records the new state: act once it has settled.
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
