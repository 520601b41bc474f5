/**
 * Ironic's API error body: `{"error_message": "<JSON string of {faultcode, faultstring,
 * debuginfo}>"}`, with the status Ironic gives each exception class.
 */
import {
  IncompleteLookup,
  InstanceDeployFailure,
  InvalidParameterValue,
  InvalidState,
  InvalidStateRequested,
  MissingParameterValue,
  NodeAlreadyExists,
  NodeLocked,
  NodeNotFound,
} from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function statusOf(error: unknown): number {
  if (error instanceof ApiError) return error.status;
  if (error instanceof NodeNotFound) return 404;
  // InvalidState is Ironic's Conflict (409); InvalidStateRequested is a client error (400).
  if (error instanceof NodeLocked || error instanceof NodeAlreadyExists || error instanceof InvalidState) return 409;
  if (
    error instanceof InvalidParameterValue ||
    error instanceof MissingParameterValue ||
    error instanceof IncompleteLookup ||
    error instanceof InvalidStateRequested ||
    error instanceof InstanceDeployFailure
  ) {
    return 400;
  }
  return 500;
}

export function errorBody(status: number, message: string): { error_message: string } {
  return {
    error_message: JSON.stringify({ faultcode: status < 500 ? 'Client' : 'Server', faultstring: message, debuginfo: null }),
  };
}
