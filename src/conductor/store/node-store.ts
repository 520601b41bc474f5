/**
 * Where nodes live. The conductor only talks to this interface; `SqliteNodeStore` is the
 * default (one file, survives restarts). Locks are the `reserved` column, as in Ironic: an
 * exclusive task reserves the node with this conductor's host name.
 */
import type { NodeData, NodeInterfaces, Port } from '../node.js';

/** `get_nodeinfo_list` filters (`ironic/db/api.py`), camelCase. */
export interface NodeFilters {
  reserved?: boolean;
  reservedByAnyOf?: readonly string[];
  provisionState?: string;
  provisionStateIn?: readonly string[];
  maintenance?: boolean;
  /** Only nodes whose provision state changed more than this many seconds ago. */
  provisionedBefore?: number;
  driver?: string;
  uuidIn?: readonly string[];
}

export type NodeField = keyof NodeData;

export interface NodeCreate {
  uuid?: string;
  name?: string | null;
  driver?: string;
  interfaces?: Partial<NodeInterfaces>;
  driverInfo?: Record<string, unknown>;
  instanceInfo?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  automatedClean?: boolean | null;
}

export interface NodeStore {
  createNode(init: NodeCreate): NodeData;
  /** By UUID or name; throws NodeNotFound. */
  getNode(ident: string): NodeData;
  /** Writes every field except the reservation (that is `reserveNode`'s job). */
  saveNode(node: NodeData): void;
  deleteNode(uuid: string): void;
  /** Rows with `uuid`, `driver` and the asked-for fields, filtered in the database. */
  getNodeinfoList(options?: {
    fields?: readonly NodeField[];
    filters?: NodeFilters;
  }): Array<Partial<NodeData> & Pick<NodeData, 'uuid' | 'driver'>>;
  /** Atomically take the node's lock; NodeLocked if someone holds it. */
  reserveNode(uuid: string, host: string): void;
  releaseNode(uuid: string, host: string): void;
  /** Release every lock `host` holds (a conductor restarting after a crash). */
  clearReservations(host: string): void;
  createPort(nodeUuid: string, address: string): Port;
  getPorts(nodeUuid: string): Port[];
  findNodeByAddresses(addresses: readonly string[]): NodeData | undefined;
  close(): void;
}

export const DEFAULT_INTERFACES: NodeInterfaces = {
  deploy: 'direct',
  power: 'fake',
  management: 'noop',
  boot: 'fake',
  bios: 'no-bios',
  raid: 'agent',
};
