/**
 * Interfaces for nodes without a BMC the conductor can reach: Ironic's `fake` power and
 * boot (state kept on the node, nothing sent anywhere), `noop` management (accepts `pxe` and
 * `disk`, as Ironic's `NoopManagement`; Ironic's `fake` management rejects `disk`, which
 * breaks `direct`), and the `no-bios` / `no-raid` placeholders.
 */
import { InvalidParameterValue } from '../errors.js';
import type { PowerState, StepReturn } from '../states.js';
import { states } from '../states.js';
import type { Task } from '../task.js';
import { BIOSInterface, BootInterface, ManagementInterface, PowerInterface, RAIDInterface } from './base.js';

export class FakePower extends PowerInterface {
  getPowerState(task: Task): PowerState {
    return task.node.powerState ?? states.POWER_OFF;
  }

  setPowerState(task: Task, state: PowerState): void {
    if (state !== states.POWER_ON && state !== states.POWER_OFF && state !== states.SOFT_POWER_OFF) {
      throw new InvalidParameterValue(`set_power_state called with an invalid power state: ${state}.`);
    }
    task.node.powerState = state === states.SOFT_POWER_OFF ? states.POWER_OFF : state;
  }

  reboot(task: Task): void {
    task.node.powerState = states.POWER_ON;
  }
}

export class FakeBoot extends BootInterface {}

export class NoopManagement extends ManagementInterface {
  getSupportedBootDevices(): string[] {
    return ['pxe', 'disk'];
  }

  setBootDevice(task: Task, device: string): void {
    if (!this.getSupportedBootDevices().includes(device))
      throw new InvalidParameterValue(`Invalid boot device ${device} specified.`);
    task.node.driverInternalInfo.boot_device = device;
  }
}

export class NoBIOS extends BIOSInterface {
  #unsupported(): never {
    throw new InvalidParameterValue('"no-bios" interface does not support this operation');
  }
  applyConfiguration(): StepReturn {
    this.#unsupported();
  }
  factoryReset(): StepReturn {
    this.#unsupported();
  }
  cacheBiosSettings(): void {}
}

export class NoRAID extends RAIDInterface {
  createConfiguration(): StepReturn {
    throw new InvalidParameterValue('"no-raid" interface does not support this operation');
  }
  deleteConfiguration(): StepReturn {
    throw new InvalidParameterValue('"no-raid" interface does not support this operation');
  }
  override async validate(): Promise<void> {}
}
