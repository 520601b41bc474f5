/**
 * What the conductor sends to and reads from an agent, as Ironic shapes it: the command
 * record, the node and ports as `node.as_dict()` with secrets masked, and a command's error
 * text. Used by the HTTP client (agent-client.ts) and the API's node views.
 */
import { nodeCommonFields, type NodeData, type Port } from './node.js';

export interface AgentCommand {
  id?: string;
  command_name: string;
  command_status: string;
  command_result: Record<string, any> | null;
  command_error: Record<string, any> | string | null;
  command_params?: Record<string, unknown>;
  command_progress?: unknown;
  [extra: string]: unknown;
}

/** oslo.utils' `_SANITIZE_KEYS` (what `mask_dict_password` matches in the lowered key), and `pass$`. */
const SECRET_KEY =
  /(password|passwd|pswd|pass$|adminpass|admin_pass|new_pass|secret|token|configdrive|private_key|passphrase|sslkey|fernetkey|encrypted_key|encryption_key|cephxkey|pskkey|keyring)/i;

/** `strutils.mask_dict_password(…, "******")`, recursively. */
export function maskSecrets(value: unknown, keep: readonly string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, keep));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEY.test(k) && !keep.includes(k) && v !== null && typeof v !== 'object' ? '******' : maskSecrets(v, keep),
    ]),
  );
}

/** `node.as_dict(secure=True)`: every field, secrets masked (the agent caches this). */
export function nodeAsDict(node: NodeData, options: { maskConfigdrive?: boolean } = {}): Record<string, unknown> {
  const keep = options.maskConfigdrive === false ? ['configdrive'] : [];
  return {
    ...nodeCommonFields(node),
    driver_info: maskSecrets(node.driverInfo),
    instance_info: maskSecrets(node.instanceInfo, keep),
    driver_internal_info: maskSecrets(node.driverInternalInfo),
  };
}

export function portAsDict(port: Port): Record<string, unknown> {
  return { uuid: port.uuid, node_uuid: port.nodeUuid, address: port.address };
}

/** `get_command_error`: the text Ironic puts into `last_error` for a failed command. */
export function getCommandError(command: Partial<AgentCommand>): string {
  const error = command.command_error;
  if (error === undefined || error === null) return 'Invalid agent response';
  if (typeof error === 'string') return error;
  return String(error.details || error.message || JSON.stringify(error));
}
