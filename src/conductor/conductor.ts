/**
 * The conductor: node store + interface registry + workers + periodic tasks, and the
 * operations the API calls (provision actions, lookup, heartbeat). One process, one host
 * name; locks live in the store so a second process on the same file respects them.
 */
import { AgentClient } from './agent-client.js';
import { doNodeClean, doNodeCleanAbort } from './cleaning.js';
import { makeConf, type ConductorConf, type ConductorConfInput } from './conf.js';
import { doNodeDeploy, doNodeTearDown } from './deployments.js';
import type { Driver } from './drivers/base.js';
import { InterfaceRegistry } from './drivers/registry.js';
import { continueNodeSteps } from './continue-steps.js';
import { excClassAndMessage, InstanceDeployFailure, InvalidParameterValue, InvalidStateRequested } from './errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import { isStepSet, type NodeData } from './node.js';
import { type NodePeriodicOptions, periodicMethods, periodicOptionsOf } from './periodics.js';
import { states, STUCK_STATES_TREATED_AS_FAIL } from './states.js';
import { stepId } from './step-types.js';
import type { NodeCreate, NodeStore } from './store/node-store.js';
import { type Task, TaskManager, withTask } from './task.js';
import { nodePowerAction } from './utils.js';
import { parseUserCleanSteps, parseUserDeploySteps } from './user-steps.js';
import { failTimedOut, runNodePeriodic } from './periodic-runs.js';
import { acceptHeartbeat, type HeartbeatParams, lookupNode } from './ramdisk-endpoints.js';

export interface ConductorOptions {
  store: NodeStore;
  conf?: ConductorConfInput;
  log?: Logger;
  interfaces?: InterfaceRegistry;
  /** Where `log.collect_system_logs` tarballs go on failure (`[agent]deploy_logs_local_path`). */
  deployLogsDir?: string;
}

interface RunningPeriodic {
  name: string;
  options: NodePeriodicOptions;
  run: () => Promise<void>;
  timer?: NodeJS.Timeout;
  busy?: boolean;
}

export class Conductor {
  readonly store: NodeStore;
  readonly conf: ConductorConf;
  readonly log: Logger;
  readonly interfaces: InterfaceRegistry;
  readonly deployLogsDir: string | undefined;
  readonly #workers = new Set<Promise<void>>();
  readonly #periodics: RunningPeriodic[] = [];
  #started = false;
  #agentClient: AgentClient | undefined;

  constructor(options: ConductorOptions) {
    this.store = options.store;
    this.conf = makeConf(options.conf);
    this.log = options.log ?? silentLogger;
    this.interfaces = options.interfaces ?? new InterfaceRegistry();
    this.deployLogsDir = options.deployLogsDir;
    this.#addBuiltinPeriodics();
  }

  /** The client every task talks to agents with (its TLS connection pools are reused). */
  get agentClient(): AgentClient {
    return (this.#agentClient ??= new AgentClient(this.conf.agent, this.log));
  }

  driverFor(node: Pick<NodeData, 'interfaces'>): Driver {
    return this.interfaces.driverFor(node);
  }

  trackWorker(work: Promise<void>): void {
    this.#workers.add(work);
    void work.finally(() => this.#workers.delete(work));
  }

  /** Resolves when no worker is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#workers.size > 0) await Promise.allSettled([...this.#workers]);
  }

  /**
   * Take over after a (re)start: drop our stale locks, fail nodes stuck in states nobody
   * drives any more (`*ING`), keep the `*WAIT` ones (the agent's next heartbeat resumes
   * them), and start the periodic tasks.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.store.clearReservations(this.conf.host);
    for (const row of this.store.getNodeinfoList({
      fields: ['provisionState'],
      filters: { provisionStateIn: [...STUCK_STATES_TREATED_AS_FAIL] },
    })) {
      try {
        await withTask(this, row.uuid, { purpose: 'start-up recovery' }, async (task) => {
          const state = task.node.provisionState;
          if (!STUCK_STATES_TREATED_AS_FAIL.has(state)) return;
          // `_fail_transient_state`: every stuck state fails, with Ironic's last_error. Only
          // CLEANING and DEPLOYING were handled, so a restart during an undeploy left the node
          // in "deleting" for good: no provision action is allowed from there.
          if (state === states.CLEANING) task.node.cleanStep = {};
          if (state === states.DEPLOYING) task.node.deployStep = {};
          task.processEvent('fail', {
            lastError: `The ${state} state can't be resumed by conductor ${this.conf.host}. Moving to fail state.`,
          });
        });
      } catch (error) {
        this.log.warn({ node: row.uuid, err: error }, 'could not recover node at start-up');
      }
    }
    for (const periodic of this.#periodics) this.#schedule(periodic);
  }

  async stop(): Promise<void> {
    this.#started = false;
    for (const periodic of this.#periodics) clearInterval(periodic.timer);
    await this.idle();
    await this.#agentClient?.close();
    this.#agentClient = undefined;
  }

  // ---------------------------------------------------------------- periodics

  /** Register a `nodePeriodic`-marked function `(task, context)` run by this conductor. */
  addPeriodic(fn: (task: Task, context: Record<string, unknown>) => unknown, name = fn.name || 'periodic'): void {
    const options = periodicOptionsOf(fn);
    if (!options) throw new InvalidParameterValue(`${name} is not decorated with nodePeriodic`);
    const periodic: RunningPeriodic = { name, options, run: () => runNodePeriodic(this, options, (task) => fn(task, {})) };
    this.#periodics.push(periodic);
    if (this.#started) this.#schedule(periodic);
  }

  /** Run every periodic once now (tests; `ramdisk-agent conductor` does it on its timers). */
  async runPeriodicsOnce(): Promise<void> {
    for (const periodic of this.#periodics) await periodic.run();
  }

  #addBuiltinPeriodics(): void {
    const seen = new Set<unknown>();
    for (const instance of this.interfaces.allInstances()) {
      if (seen.has(instance)) continue;
      seen.add(instance);
      for (const { name, fn, options } of periodicMethods(instance as object)) {
        const cls = (instance as object).constructor as abstract new () => object;
        const iface = (instance as { interfaceType: keyof Driver }).interfaceType;
        this.#periodics.push({
          name: `${cls.name}.${name}`,
          options,
          run: () =>
            runNodePeriodic(this, options, async (task) => {
              if (!(task.driver[iface] instanceof cls)) return false;
              return fn.call(instance, task, this, {});
            }),
        });
      }
    }
    const interval = () => this.conf.conductor.checkProvisionStateInterval;
    this.#periodics.push({
      name: 'checkCleanwaitTimeouts',
      options: { purpose: 'checking cleaning timeouts', spacing: interval() },
      run: () => failTimedOut(this, states.CLEANWAIT, this.conf.conductor.cleanCallbackTimeout),
    });
    this.#periodics.push({
      name: 'checkDeployTimeouts',
      options: { purpose: 'checking deployment timeouts', spacing: interval() },
      run: () => failTimedOut(this, states.DEPLOYWAIT, this.conf.conductor.deployCallbackTimeout),
    });
  }

  #schedule(periodic: RunningPeriodic): void {
    const { spacing, enabled = true } = periodic.options;
    if (!enabled || spacing <= 0) return;
    periodic.timer = setInterval(() => {
      if (periodic.busy) return;
      periodic.busy = true;
      periodic
        .run()
        .catch((error) => this.log.error({ err: error }, `periodic ${periodic.name} failed`))
        .finally(() => {
          periodic.busy = false;
        });
    }, spacing * 1000);
    periodic.timer.unref();
  }

  // ---------------------------------------------------------------- nodes

  createNode(init: NodeCreate & { ports?: string[] }): NodeData {
    if (init.interfaces) {
      for (const [kind, name] of Object.entries(init.interfaces)) this.interfaces.instance(kind as keyof Driver, name as string);
    }
    const node = this.store.createNode(init);
    for (const address of init.ports ?? []) this.store.createPort(node.uuid, address);
    return node;
  }

  /** `do_provisioning_action` / `do_node_clean` / `do_node_deploy` entry points. */
  async provision(
    ident: string,
    target: string,
    options: { cleanSteps?: unknown; deploySteps?: unknown; disableRamdisk?: boolean } = {},
  ): Promise<void> {
    const task = await TaskManager.acquire(this, ident, { purpose: `provision action ${target}` });
    try {
      const node = task.node;
      const state = node.provisionState;
      switch (target) {
        case 'manage':
          this.#requireState(task, target, [states.ENROLL, states.AVAILABLE, states.CLEANFAIL]);
          if (state === states.ENROLL) await task.driver.power.validate(task);
          task.processEvent('manage');
          return;
        case 'provide':
          this.#requireState(task, target, [states.MANAGEABLE]);
          task.processEvent('provide', { targetState: states.AVAILABLE });
          task.spawnAfter((t) => doNodeClean(t));
          return;
        case 'clean': {
          this.#requireState(task, target, [states.MANAGEABLE]);
          const steps = parseUserCleanSteps(options.cleanSteps);
          task.processEvent('clean', { targetState: states.MANAGEABLE });
          task.spawnAfter((t) => doNodeClean(t, steps, options.disableRamdisk ?? false));
          return;
        }
        case 'active':
        case 'deploy':
        case 'rebuild': {
          const event = target === 'rebuild' ? 'rebuild' : 'deploy';
          this.#requireState(
            task,
            target,
            target === 'rebuild' ? [states.ACTIVE, states.DEPLOYFAIL, states.ERROR] : [states.AVAILABLE, states.DEPLOYFAIL],
          );
          const steps = options.deploySteps === undefined ? null : parseUserDeploySteps(options.deploySteps);
          try {
            await task.driver.power.validate(task);
            await task.driver.deploy.validate(task);
            if (steps) {
              node.driverInternalInfo.user_deploy_steps = steps;
              const { getAllDeploymentSteps } = await import('./steps.js');
              await getAllDeploymentSteps(task, true);
            }
          } catch (error) {
            const [, msg] = excClassAndMessage(error);
            throw new InstanceDeployFailure(`Failed to validate deploy or power info for node ${node.uuid}: ${msg}`);
          }
          task.processEvent(event, { targetState: states.ACTIVE });
          task.spawnAfter((t) => doNodeDeploy(t, steps));
          return;
        }
        case 'deleted':
        case 'undeploy':
          this.#requireState(task, target, [states.ACTIVE, states.DEPLOYWAIT, states.DEPLOYFAIL, states.ERROR]);
          task.processEvent('delete', { targetState: states.AVAILABLE });
          task.spawnAfter((t) => doNodeTearDown(t));
          return;
        case 'abort':
          await this.#abort(task);
          return;
        default:
          throw new InvalidParameterValue(`The requested action "${target}" is not supported.`);
      }
    } finally {
      task.release();
    }
  }

  #requireState(task: Task, action: string, allowed: readonly string[]): void {
    if (!allowed.includes(task.node.provisionState)) {
      throw new InvalidStateRequested(
        `The requested action "${action}" can not be performed on node "${task.node.uuid}" while it is in state "${task.node.provisionState}".`,
      );
    }
  }

  /** `_do_abort` (2023.1): only CLEANWAIT can be aborted among the step states. */
  async #abort(task: Task): Promise<void> {
    const node = task.node;
    if (node.provisionState !== states.CLEANWAIT) {
      throw new InvalidStateRequested(
        `The requested action "abort" can not be performed on node "${node.uuid}" while it is in state "${node.provisionState}".`,
      );
    }
    const current = node.cleanStep;
    if (isStepSet(current) && !current.abortable) {
      this.log.info({ node: node.uuid }, `clean step ${stepId(current)} is not abortable; cleaning will be aborted once it ends`);
      node.cleanStep = { ...current, abort_after: true };
      node.save();
      return;
    }
    const manual = node.targetProvisionState === states.MANAGEABLE;
    task.processEvent('abort', manual ? { targetState: states.MANAGEABLE } : {});
    const stepName = isStepSet(current) ? stepId(current) : undefined;
    task.spawnAfter((t) => doNodeCleanAbort(t, stepName));
  }

  /** `notify_conductor_resume_clean/deploy`: continue a parked node from a periodic or hook. */
  resume(uuid: string, type: 'clean' | 'deploy'): void {
    this.trackWorker(
      (async () => {
        await new Promise((r) => setImmediate(r));
        const task = await TaskManager.acquire(this, uuid, { purpose: `continue ${type}` });
        const expected = type === 'clean' ? states.CLEANWAIT : states.DEPLOYWAIT;
        try {
          if (task.node.provisionState !== expected) {
            throw new InvalidStateRequested(
              `Cannot continue ${type}ing on ${uuid}. Node is in ${task.node.provisionState} state; should be ${expected} state.`,
            );
          }
          await continueNodeSteps(task, type);
        } finally {
          task.release();
        }
      })().catch((error) => this.log.error({ node: uuid, err: error }, `could not continue ${type}ing`)),
    );
  }

  // ---------------------------------------------------------------- ramdisk endpoints (ramdisk-endpoints.ts)

  /** `GET /v1/lookup`: find the node, check its state, reveal the token once. */
  lookup(addresses: readonly string[], nodeUuid: string | undefined): Promise<{ node: NodeData; token: string | null }> {
    return lookupNode(this, addresses, nodeUuid);
  }

  /** `POST /v1/heartbeat/{node}`: checks, then the deploy interface's heartbeat in a worker. */
  heartbeat(ident: string, params: HeartbeatParams): Promise<void> {
    return acceptHeartbeat(this, ident, params);
  }

  async setPowerState(ident: string, target: string): Promise<void> {
    await withTask(this, ident, { purpose: 'changing node power state' }, async (task) => {
      const allowed: Record<string, typeof states.POWER_ON | typeof states.POWER_OFF | typeof states.REBOOT> = {
        'power on': states.POWER_ON,
        'power off': states.POWER_OFF,
        rebooting: states.REBOOT,
      };
      const state = allowed[target];
      if (!state) throw new InvalidParameterValue(`Invalid power state: ${target}`);
      await nodePowerAction(task, state);
    });
  }
}
