/**
 * `task_manager`: a task is one unit of work on one node, holding a shared or exclusive
 * lock. An exclusive lock is the node's `reserved` column, so another conductor process on
 * the same database sees it too. Workers spawned from a task keep its lock until they end.
 */
import type { AgentClient } from './agent-client.js';
import type { ConductorHost, Driver, Task } from './drivers/base.js';
import { NodeLocked } from './errors.js';
import type { Node, NodeData, Port } from './node.js';
import { defaultTarget, isStable, nextState, type ProvisionEvent, type ProvisionState, states } from './states.js';
import type { NodeStore } from './store/node-store.js';

export type { Task } from './drivers/base.js';
export type { Node } from './node.js';

/** What a task needs of its conductor beyond what it shows drivers: the store, locks, workers. */
export interface TaskHost extends ConductorHost {
  readonly store: NodeStore;
  driverFor(node: Pick<NodeData, 'interfaces'>): Driver;
  /** Keep a spawned worker's promise so the conductor can wait for it (`idle`, `stop`). */
  trackWorker(work: Promise<void>): void;
}

function bindNode(data: NodeData, conductor: TaskHost): Node {
  const node = data as Node;
  Object.defineProperties(node, {
    save: { value: () => conductor.store.saveNode(node), enumerable: false, configurable: true },
    refresh: {
      value: () => {
        const fresh = conductor.store.getNode(node.uuid);
        Object.assign(node, fresh);
      },
      enumerable: false,
      configurable: true,
    },
  });
  return node;
}

export interface AcquireOptions {
  shared?: boolean;
  purpose?: string;
  /** Retry a locked node `[conductor]node_locked_retry_attempts` times (default true). */
  retry?: boolean;
}

/** `task_manager.TaskManager`: acquires the lock, binds the node, hands the lock to workers. */
export class TaskManager implements Task {
  readonly node: Node;
  ports: Port[];
  readonly driver: Driver;
  readonly purpose: string;
  #shared: boolean;
  #released = false;
  #spawned: Array<(task: Task) => Promise<void>> = [];
  /** `task.cached_agent_client` (`agent_client.get_client`). */
  cachedAgentClient: AgentClient | undefined;

  private constructor(
    readonly conductor: TaskHost,
    node: Node,
    shared: boolean,
    purpose: string,
  ) {
    this.node = node;
    this.#shared = shared;
    this.purpose = purpose;
    this.ports = conductor.store.getPorts(node.uuid);
    this.driver = conductor.driverFor(node);
  }

  static async acquire(conductor: TaskHost, ident: string, options: AcquireOptions = {}): Promise<TaskManager> {
    const shared = options.shared ?? false;
    const data = conductor.store.getNode(ident);
    if (!shared) await reserveWithRetry(conductor, data.uuid, options.retry ?? true);
    try {
      const node = bindNode(shared ? data : conductor.store.getNode(data.uuid), conductor);
      return new TaskManager(conductor, node, shared, options.purpose ?? 'unspecified');
    } catch (error) {
      if (!shared) conductor.store.releaseNode(data.uuid, conductor.conf.host);
      throw error;
    }
  }

  get shared(): boolean {
    return this.#shared;
  }

  /** Turn a shared task into an exclusive one (`task.upgrade_lock()`). */
  async upgradeLock(options: { purpose?: string; retry?: boolean } = {}): Promise<void> {
    if (!this.#shared) return;
    await reserveWithRetry(this.conductor, this.node.uuid, options.retry ?? true);
    this.#shared = false;
    // What we read under the shared lock may be stale: re-read under the exclusive one.
    this.node.refresh();
    this.node.reserved = this.conductor.conf.host;
  }

  /** Run `fn` with this task's lock once the current handler is done (`spawn_after`). */
  spawnAfter(fn: (task: Task) => Promise<void>): void {
    this.#spawned.push(fn);
  }

  /** End the task: start spawned workers (they inherit the lock) or release the lock. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const workers = this.#spawned.splice(0);
    if (workers.length === 0) {
      this.#unlock();
      return;
    }
    this.conductor.trackWorker(
      (async () => {
        try {
          for (const worker of workers) await worker(this);
        } catch (error) {
          this.conductor.log.error({ err: error, node: this.node.uuid }, 'worker failed');
        } finally {
          this.#unlock();
        }
      })(),
    );
  }

  #unlock(): void {
    if (!this.#shared) this.conductor.store.releaseNode(this.node.uuid, this.conductor.conf.host);
  }

  /**
   * Advance the provision state machine (`task.process_event`): sets the new state and
   * target, stamps `provision_updated_at` and saves.
   */
  processEvent(event: ProvisionEvent, options: { targetState?: ProvisionState; lastError?: string | null } = {}): void {
    const from = this.node.provisionState;
    const to = nextState(from, event);
    if (!to) throw new InvalidStateTransition(this.node.uuid, from, event);
    this.node.provisionState = to;
    if (options.targetState !== undefined) {
      this.node.targetProvisionState = options.targetState;
    } else if (isStable(to)) {
      this.node.targetProvisionState = null;
    } else if (event !== 'fail' && event !== 'wait' && event !== 'resume' && event !== 'abort') {
      this.node.targetProvisionState = defaultTarget(to);
    } else if (this.node.targetProvisionState === null) {
      this.node.targetProvisionState = defaultTarget(to);
    }
    if (options.lastError !== undefined) this.node.lastError = options.lastError;
    this.node.provisionUpdatedAt = new Date().toISOString();
    this.node.save();
    this.conductor.log.info({ node: this.node.uuid, event, from, to }, `node ${this.node.uuid}: ${from} -> ${to}`);
  }

  /** `task.resume_cleaning()`: CLEANWAIT → CLEANING keeping a manual clean's MANAGEABLE target. */
  resumeCleaning(): void {
    const manual = this.node.targetProvisionState === states.MANAGEABLE;
    this.processEvent('resume', manual ? { targetState: states.MANAGEABLE } : {});
  }
}

class InvalidStateTransition extends Error {
  constructor(node: string, from: string, event: string) {
    super(`Node ${node}: cannot "${event}" from state "${from}"`);
    this.name = 'InvalidState';
  }
}

async function reserveWithRetry(conductor: TaskHost, uuid: string, retry: boolean): Promise<void> {
  const attempts = retry ? Math.max(1, conductor.conf.conductor.nodeLockedRetryAttempts) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      conductor.store.reserveNode(uuid, conductor.conf.host);
      return;
    } catch (error) {
      if (!(error instanceof NodeLocked) || attempt >= attempts) throw error;
      await new Promise((r) => setTimeout(r, conductor.conf.conductor.nodeLockedRetryInterval * 1000));
    }
  }
}

/** `with task_manager.acquire(...) as task:` — releases (or hands to workers) at the end. */
export async function withTask<T>(
  conductor: TaskHost,
  ident: string,
  options: AcquireOptions,
  fn: (task: Task) => Promise<T> | T,
): Promise<T> {
  const task = await TaskManager.acquire(conductor, ident, options);
  try {
    return await fn(task);
  } finally {
    task.release();
  }
}
