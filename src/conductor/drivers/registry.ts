/**
 * Interface implementations by name (`enabled_*_interfaces`), and the driver a node gets
 * from its `*_interface` fields. Plugin authors register their own classes here.
 */
import { InvalidParameterValue } from '../errors.js';
import type { NodeData, NodeInterfaces } from '../node.js';
import { AgentDeploy, CustomAgentDeploy } from './agent.js';
import { AgentRAID } from './agent-raid.js';
import type {
  BIOSInterface,
  BootInterface,
  DeployInterface,
  Driver,
  ManagementInterface,
  PowerInterface,
  RAIDInterface,
} from './base.js';
import { FakeBoot, FakePower, NoBIOS, NoopManagement, NoRAID } from './fake.js';
import { QemuPower } from './qemu-power.js';

type Ctor<T> = new () => T;
type InterfaceClasses = { [K in keyof Driver]: Map<string, Ctor<Driver[K]>> };

export class InterfaceRegistry {
  readonly #classes: InterfaceClasses = {
    deploy: new Map<string, Ctor<DeployInterface>>([
      ['direct', AgentDeploy],
      ['custom-agent', CustomAgentDeploy],
    ]),
    power: new Map<string, Ctor<PowerInterface>>([
      ['fake', FakePower],
      ['qemu', QemuPower],
    ]),
    management: new Map<string, Ctor<ManagementInterface>>([['noop', NoopManagement]]),
    boot: new Map<string, Ctor<BootInterface>>([['fake', FakeBoot]]),
    bios: new Map<string, Ctor<BIOSInterface>>([['no-bios', NoBIOS]]),
    raid: new Map<string, Ctor<RAIDInterface>>([
      ['agent', AgentRAID],
      ['no-raid', NoRAID],
    ]),
  };
  /** One instance per implementation, as Ironic's driver factory caches them. */
  readonly #instances = new Map<string, unknown>();

  register<K extends keyof Driver>(kind: K, name: string, cls: Ctor<Driver[K]>): void {
    (this.#classes[kind] as Map<string, Ctor<Driver[K]>>).set(name, cls);
    this.#instances.delete(`${kind}:${name}`);
  }

  names(kind: keyof Driver): string[] {
    return [...this.#classes[kind].keys()];
  }

  instance<K extends keyof Driver>(kind: K, name: string): Driver[K] {
    const key = `${kind}:${name}`;
    let instance = this.#instances.get(key) as Driver[K] | undefined;
    if (!instance) {
      const cls = (this.#classes[kind] as Map<string, Ctor<Driver[K]>>).get(name);
      if (!cls)
        throw new InvalidParameterValue(
          `Could not find the following interface in the 'ironic.hardware.interfaces.${kind}' entrypoint: ${name}. Valid interfaces are ${this.names(kind).join(', ')}.`,
        );
      instance = new cls();
      this.#instances.set(key, instance);
    }
    return instance;
  }

  allInstances(): unknown[] {
    const all: unknown[] = [];
    for (const kind of Object.keys(this.#classes) as Array<keyof Driver>) {
      for (const name of this.#classes[kind].keys()) all.push(this.instance(kind, name));
    }
    return all;
  }

  driverFor(node: Pick<NodeData, 'interfaces'>): Driver {
    const i: NodeInterfaces = node.interfaces;
    return {
      deploy: this.instance('deploy', i.deploy),
      power: this.instance('power', i.power),
      management: this.instance('management', i.management),
      boot: this.instance('boot', i.boot),
      bios: this.instance('bios', i.bios),
      raid: this.instance('raid', i.raid),
    };
  }
}
