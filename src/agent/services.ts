/**
 * What commands can reach: the hardware managers, the node the conductor last sent, the
 * guard, the logger and the configuration. Later subsystems (heartbeater, power, image
 * writer) hang off this object rather than off globals.
 */
import type { DeviceGuard } from '../hardware/device-guard.js';
import type { Logger } from '../hardware/logger.js';
import type { ManagerRegistry } from '../hardware/registry.js';
import type { Exec, IronicNode } from '../hardware/step-context.js';
import type { AgentConfig } from './config/schema.js';

export interface AgentServices {
  config: AgentConfig;
  log: Logger;
  hardware: ManagerRegistry;
  guard: DeviceGuard;
  exec: Exec;
  node: NodeCache;
}

/** IPA's `hardware.cache_node`: the last node dict any command carried. */
export class NodeCache {
  #node: IronicNode | undefined;

  get current(): IronicNode | undefined {
    return this.#node;
  }

  /** Returns true when this is a different node than the one cached before. */
  update(node: IronicNode | undefined): boolean {
    if (!node) return false;
    const changed = this.#node?.uuid !== node.uuid;
    this.#node = node;
    return changed;
  }
}
