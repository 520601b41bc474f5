/**
 * The API's view of a node (snake_case wire keys, as `baremetal node show -f json`), with
 * secrets masked as Ironic's `node_sanitize` does for every caller by default (the
 * `show_password` and `show_instance_secrets` policies are `!`): passwords and other secret
 * keys of `driver_info` and `instance_info`, `instance_info.configdrive` and `image_url` (it
 * may be a signed temporary URL), and the agent token. The conductor keeps the real values.
 */
import { maskSecrets } from '../agent-wire.js';
import { nodeCommonFields, type NodeData } from '../node.js';

export function nodeToApi(node: NodeData): Record<string, unknown> {
  const instanceInfo = maskSecrets(node.instanceInfo) as Record<string, unknown>;
  if (instanceInfo.configdrive) instanceInfo.configdrive = '******';
  if (instanceInfo.image_url) instanceInfo.image_url = '******';
  return {
    ...nodeCommonFields(node),
    maintenance_reason: node.maintenanceReason,
    fault: node.fault,
    reservation: node.reserved,
    driver_info: maskSecrets(node.driverInfo),
    driver_internal_info: node.driverInternalInfo.agent_secret_token
      ? { ...node.driverInternalInfo, agent_secret_token: '******' }
      : node.driverInternalInfo,
    instance_info: instanceInfo,
    provision_updated_at: node.provisionUpdatedAt,
    created_at: node.createdAt,
    updated_at: node.updatedAt,
  };
}
