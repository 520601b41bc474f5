/**
 * What commands can reach: the hardware managers, the node the conductor last sent, the
 * guard, the logger and the configuration. Later subsystems (heartbeater, power, image
 * writer) hang off this object rather than off globals.
 */
import type { DeviceGuard } from '../hardware/device-guard.js';
import type { Logger } from '../hardware/logger.js';
import type { ManagerRegistry } from '../hardware/registry.js';
import type { Exec } from '../hardware/step-context.js';
import type { AgentConfig } from './config/schema.js';
import type { LookupConfig } from './heartbeat/lookup.js';
import type { LogBuffer } from './log-buffer.js';
import type { NodeCache } from './node-cache.js';
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
  /** Lookup and heartbeats (heartbeat/conductor-link.ts); absent when standalone. */
  conductor: ConductorView | undefined;
  /**
   * Stop serving the API and heartbeating once the current response is out (IPA's
   * `serve_api = False`: rescue finalized, lockdown). Resolves when the API is closed.
   */
  stopServing(reason: string): Promise<void>;
}

/**
 * What commands read of the conductor link. Commands never drive lookup or heartbeats, and
 * naming only this keeps the link (which holds the command runner) out of what commands import.
 */
interface ConductorView {
  /** The `config` of the last lookup (`agent_skip_bmc_detect`, `heartbeat_timeout`, ...). */
  readonly lookupConfig: LookupConfig | undefined;
  /** The token from the lookup: only so that the log bundle can mask it wherever it appears. */
  readonly agentToken: string | undefined;
}
