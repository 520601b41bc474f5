/**
 * The API's writes to a node record (`ConductorManager.update_node`, `destroy_node`,
 * `set_target_raid_config`): each under the node's exclusive lock, as in Ironic. A node that a
 * worker holds (a step running, a heartbeat being processed) answers 409 NodeLocked after
 * `[conductor]node_locked_retry_*`: writing past the lock lost updates both ways, because a
 * worker saves its whole in-memory node (a `maintenance` set mid-deploy was reverted by the
 * next step's save) and the API saved its whole copy over the worker's changes.
 */
import { InvalidState } from './errors.js';
import type { NodeData } from './node.js';
import { states } from './states.js';
import { type TaskHost, withTask } from './task.js';

/** `DELETE_ALLOWED_STATES` plus AVAILABLE (`[conductor]allow_deleting_available_nodes`, default True). */
const DELETE_ALLOWED_STATES: readonly string[] = [states.MANAGEABLE, states.ENROLL, states.AVAILABLE];

/** Apply `mutate` to the node under its exclusive lock and save it; returns the saved node. */
export function updateNode(host: TaskHost, ident: string, mutate: (node: NodeData) => void): Promise<NodeData> {
  return withTask(host, ident, { purpose: 'node update' }, (task) => {
    const node = task.node;
    const wasInMaintenance = node.maintenance;
    mutate(node);
    // `update_node`: leaving maintenance clears the fault. A stale 'clean failure' fault made
    // every later tear_down_cleaning leave the node powered on in the ramdisk.
    if (wasInMaintenance && !node.maintenance) {
      node.fault = null;
      node.maintenanceReason = null;
    }
    node.save();
    return structuredClone({ ...node });
  });
}

/** `destroy_node`: only in a state where no work runs and no instance or failure is left behind. */
export function destroyNode(host: TaskHost, ident: string): Promise<void> {
  return withTask(host, ident, { purpose: 'node deletion' }, (task) => {
    const node = task.node;
    if (!node.maintenance && !DELETE_ALLOWED_STATES.includes(node.provisionState)) {
      throw new InvalidState(
        `Can not delete node "${node.uuid}" while it is in provision state "${node.provisionState}". Valid provision states to perform deletion are: "(${DELETE_ALLOWED_STATES.map((s) => `'${s}'`).join(', ')})", or set the node into maintenance mode`,
      );
    }
    host.store.deleteNode(node.uuid);
  });
}
