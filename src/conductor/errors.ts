/**
 * Ironic's exception classes the step machinery raises (`ironic/common/exception.py`),
 * with Ironic's class names and message templates. The conductor turns them into
 * `last_error` strings, so their text is part of the contract.
 */
import { pythonRepr } from '../shared/python-repr.js';

export class IronicException extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidParameterValue extends IronicException {}
export class MissingParameterValue extends IronicException {}
export class InvalidState extends IronicException {}
export class InvalidStateRequested extends IronicException {}
export class NodeNotFound extends IronicException {
  constructor(node: string) {
    super(`Node ${node} could not be found.`);
  }
}
export class NodeLocked extends IronicException {
  constructor(node: string, host: string) {
    super(`Node ${node} is locked by host ${host}, please retry after the current operation is completed.`);
  }
}
export class NodeCleaningFailure extends IronicException {
  constructor(node: string, reason: string) {
    super(`Failed to clean node ${node}: ${reason}`);
  }
}
export class InstanceDeployFailure extends IronicException {}
export class PowerStateFailure extends IronicException {}
export class NodeAlreadyExists extends IronicException {}
export class IncompleteLookup extends IronicException {
  constructor() {
    super("At least one of 'addresses' and 'node_uuid' parameters is required");
  }
}

export class AgentConnectionFailed extends IronicException {}

export class AgentInProgress extends IronicException {
  constructor(
    readonly node: string,
    readonly command: string,
    readonly error: string,
  ) {
    super(`Node ${node} command "${command}" failed. Agent is presently executing a command. Error ${error}`);
  }
}

export class AgentAPIError extends IronicException {
  constructor(
    readonly node: string,
    readonly status: number | string,
    readonly error: string,
  ) {
    super(`Agent API for node ${node} returned HTTP status code ${status} with error: ${error}`);
  }
}

export class AgentCommandTimeout extends IronicException {
  constructor(command: string, node: string) {
    super(`Timeout executing command ${command} on node ${node}`);
  }
}

/** Python's `%s` of a value, so messages read as Ironic's do (`None`, `True`, `[1, 2]`). */
export function pyStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  return pythonRepr(value);
}

/** `ClassName: message`, as `fail_on_error` and the step loops render exceptions. */
export function excClassAndMessage(error: unknown): [string, string] {
  if (error instanceof Error) return [error.name, error.message];
  return ['Error', String(error)];
}
