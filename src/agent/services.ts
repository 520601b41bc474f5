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
import type { ConductorLink } from './heartbeat/conductor-link.js';
import type { LogBuffer } from './log-buffer.js';
import type { PowerActions } from './power.js';

export interface AgentServices {
  config: AgentConfig;
  log: Logger;
  hardware: ManagerRegistry;
  guard: DeviceGuard;
  exec: Exec;
  node: NodeCache;
  /** Power off / reboot / NICs down: real in a ramdisk, simulated elsewhere. */
  power: PowerActions;
  /** The agent's own recent log lines (for `log.collect_system_logs`). */
  logBuffer: LogBuffer;
  /** Lookup and heartbeats; absent when standalone. */
  conductor: ConductorLink | undefined;
  /**
   * Stop serving the API and heartbeating once the current response is out (IPA's
   * `serve_api = False`: rescue finalized, lockdown). Resolves when the API is closed.
   */
  stopServing(reason: string): Promise<void>;
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
