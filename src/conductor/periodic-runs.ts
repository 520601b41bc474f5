/**
 * What one periodic run does over the nodes: `nodePeriodic` bodies (filters, predicate,
 * limit, PeriodicStop) and the callback timeouts that fail silent `*WAIT` nodes. The
 * conductor schedules them (conductor.ts).
 */
import { NodeLocked, NodeNotFound } from './errors.js';
import { isStepSet } from './node.js';
import { type NodePeriodicOptions, PeriodicStop } from './periodics.js';
import { states } from './states.js';
import { stepId } from './step-types.js';
import { type Task, TaskManager, type TaskHost, withTask } from './task.js';

export async function runNodePeriodic(
  host: TaskHost,
  options: NodePeriodicOptions,
  body: (task: Task) => unknown,
): Promise<void> {
  const rows = host.store.getNodeinfoList({ fields: options.predicateExtraFields ?? [], filters: options.filters ?? {} });
  const limit = typeof options.limit === 'function' ? options.limit() : options.limit;
  let processed = 0;
  for (const row of rows) {
    if (limit !== undefined && processed >= limit) break;
    if (options.predicate && !(options.predicate.length >= 2 ? options.predicate(row, host) : options.predicate(row))) continue;
    let task: Task;
    try {
      task = await TaskManager.acquire(host, row.uuid, {
        shared: options.sharedTask ?? true,
        purpose: options.purpose,
        retry: false,
      });
    } catch (error) {
      if (error instanceof NodeNotFound || error instanceof NodeLocked) {
        host.log.info({ node: row.uuid }, `${options.purpose}: skipping node ${row.uuid}: ${(error as Error).message}`);
        continue;
      }
      throw error;
    }
    try {
      const result = await body(task);
      if (result !== false) processed++;
    } catch (error) {
      if (error instanceof PeriodicStop) break;
      if (error instanceof NodeLocked || error instanceof NodeNotFound) {
        host.log.info({ node: row.uuid }, `${options.purpose}: ${(error as Error).message}`);
        continue;
      }
      host.log.error({ node: row.uuid, err: error }, `${options.purpose} failed for node ${row.uuid}`);
    } finally {
      task.release();
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** `_fail_if_in_state`: a *WAIT node silent for longer than the callback timeout fails. */
export async function failTimedOut(host: TaskHost, state: string, timeout: number): Promise<void> {
  if (timeout <= 0) return;
  const rows = host.store.getNodeinfoList({
    filters: { reserved: false, provisionState: state, maintenance: false, provisionedBefore: timeout },
  });
  for (const row of rows) {
    try {
      await withTask(host, row.uuid, { purpose: 'node state check', retry: false }, async (task) => {
        if (task.node.provisionState !== state) return;
        if (state === states.CLEANWAIT) {
          const manual = task.node.targetProvisionState === states.MANAGEABLE;
          const step = isStepSet(task.node.cleanStep) ? stepId(task.node.cleanStep) : null;
          task.processEvent('fail', manual ? { targetState: states.MANAGEABLE } : {});
          const { cleaningErrorHandler } = await import('./utils.js');
          await cleaningErrorHandler(
            task,
            `Timeout reached while cleaning the node. Please check if the ramdisk responsible for the cleaning is running on the node. Failed on step ${step}.`,
            { setFailState: false },
          );
        } else {
          task.processEvent('fail');
          const { deployingErrorHandler } = await import('./utils.js');
          await deployingErrorHandler(task, `Timeout reached while waiting for callback for node ${task.node.uuid}`);
        }
      });
    } catch (error) {
      if (!(error instanceof NodeLocked)) host.log.error({ node: row.uuid, err: error }, 'timeout check failed');
    }
  }
}
