/**
 * A node as the conductor holds it: Ironic's fields, camelCase in code. The JSON-ish fields
 * (`driverInternalInfo`, `instanceInfo`, …) keep Ironic's snake_case keys because Ironic's
 * tooling and the agent read them.
 */
import type { PowerState, ProvisionState } from './states.js';
import type { Step } from './step-types.js';

type JsonObject = Record<string, any>;

/** Interface implementation names, per interface (`deploy_interface`, …). */
export interface NodeInterfaces {
  deploy: string;
  power: string;
  management: string;
  boot: string;
  bios: string;
  raid: string;
}

/** A node bound to its store: `node.save()` and `node.refresh()` as in Ironic's objects. */
export type Node = NodeData & { save(): void; refresh(): void };

export interface NodeData {
  uuid: string;
  name: string | null;
  driver: string;
  interfaces: NodeInterfaces;
  provisionState: ProvisionState;
  targetProvisionState: ProvisionState | null;
  powerState: PowerState | null;
  maintenance: boolean;
  maintenanceReason: string | null;
  fault: string | null;
  lastError: string | null;
  /** Host name of the conductor holding the exclusive lock, or null. */
  reserved: string | null;
  cleanStep: Step | Record<string, never> | null;
  deployStep: Step | Record<string, never> | null;
  automatedClean: boolean | null;
  driverInfo: JsonObject;
  driverInternalInfo: JsonObject;
  instanceInfo: JsonObject;
  properties: JsonObject;
  targetRaidConfig: JsonObject;
  raidConfig: JsonObject;
  provisionUpdatedAt: string | null;
  createdAt: string;
  updatedAt: string | null;
}

export interface Port {
  uuid: string;
  nodeUuid: string;
  address: string;
}

export function isStepSet(step: NodeData['cleanStep']): step is Step {
  return !!step && Object.keys(step).length > 0;
}

/** Fields every wire view of a node shares (snake_case keys, as Ironic's `Node.as_dict`). */
export function nodeCommonFields(node: NodeData): Record<string, unknown> {
  return {
    uuid: node.uuid,
    name: node.name,
    driver: node.driver,
    deploy_interface: node.interfaces.deploy,
    power_interface: node.interfaces.power,
    management_interface: node.interfaces.management,
    boot_interface: node.interfaces.boot,
    bios_interface: node.interfaces.bios,
    raid_interface: node.interfaces.raid,
    provision_state: node.provisionState,
    target_provision_state: node.targetProvisionState,
    power_state: node.powerState,
    maintenance: node.maintenance,
    last_error: node.lastError,
    clean_step: node.cleanStep,
    deploy_step: node.deployStep,
    automated_clean: node.automatedClean,
    properties: node.properties,
    target_raid_config: node.targetRaidConfig,
    raid_config: node.raidConfig,
  };
}

/** `utils.set_node_nested_field(node, 'driver_internal_info', 'in_my_action', True)`. */
export function setNodeNestedField(
  node: NodeData,
  collection: NestedCollection,
  field: string | readonly string[],
  value: unknown,
): void {
  const path = typeof field === 'string' ? [field] : [...field];
  let target = node[COLLECTIONS[collection]] as JsonObject;
  for (const key of path.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
    target = target[key];
  }
  target[path[path.length - 1]!] = value;
}

/** `utils.pop_node_nested_field(node, collection, field, default=None)`: remove and return. */
export function popNodeNestedField<T = unknown>(
  node: NodeData,
  collection: NestedCollection,
  field: string | readonly string[],
  defaultValue?: T,
): T | undefined {
  const path = typeof field === 'string' ? [field] : [...field];
  let target = node[COLLECTIONS[collection]] as JsonObject | undefined;
  for (const key of path.slice(0, -1)) {
    target = target?.[key];
    if (typeof target !== 'object' || target === null) return defaultValue;
  }
  const last = path[path.length - 1]!;
  if (!target || !Object.hasOwn(target, last)) return defaultValue;
  const value = target[last];
  delete target[last];
  return value;
}

/** `utils.get_node_nested_field`-style read with a default. */
export function getNodeNestedField<T = unknown>(
  node: NodeData,
  collection: NestedCollection,
  field: string | readonly string[],
  defaultValue?: T,
): T | undefined {
  const path = typeof field === 'string' ? [field] : [...field];
  let target: unknown = node[COLLECTIONS[collection]];
  for (const key of path) {
    if (typeof target !== 'object' || target === null || !Object.hasOwn(target, key)) return defaultValue;
    target = (target as JsonObject)[key];
  }
  return target as T;
}

export type NestedCollection = 'driver_internal_info' | 'driver_info' | 'instance_info' | 'properties';
const COLLECTIONS = {
  driver_internal_info: 'driverInternalInfo',
  driver_info: 'driverInfo',
  instance_info: 'instanceInfo',
  properties: 'properties',
} as const;
