/**
 * The agent's own errors, declared once as data (wire type, summary, code: IPA's names,
 * messages and codes, reference §2.5): the command layer's, and the lookup, heartbeat and
 * reboot ones, which belong to the agent and not to the hardware contract. Rendering them
 * as HTTP responses happens once, in `http/fault.ts`.
 */
import { defineIpaError, errorTable } from '../hardware/errors.js';

export const AGENT_ERRORS = errorTable({
  InvalidContentError: ['Invalid request body', 400],
  InvalidCommandError: ['Invalid command', 400],
  NotFound: ['Not found', 404],
  RequestedObjectNotFoundError: ['Not found', 404],
  AgentIsBusy: ['Agent is busy', 409],
  LookupNodeError: ['Error getting configuration from Ironic'],
  LookupAgentIPError: ['Error finding IP for Ironic Agent'],
  HeartbeatError: ['Error heartbeating to agent API'],
  HeartbeatRejectedError: ['Error heartbeating to agent API'],
  HeartbeatConflictError: ['ConflictError heartbeating to agent API', 409],
  HeartbeatConnectionError: [
    'Error attempting to heartbeat - Possible transitory network failure or blocking port may be present.',
  ],
  SystemRebootError: ['Error rebooting system'],
});
const E = AGENT_ERRORS;

export class InvalidContentError extends defineIpaError(E.InvalidContentError) {}
export class InvalidCommandError extends defineIpaError(E.InvalidCommandError, InvalidContentError) {}

/** @public IPA's NotFound (404); the wire-type test pins it. */
export class NotFound extends defineIpaError(E.NotFound) {
  constructor(details = 'The requested URL was not found.') {
    super(details);
  }
}

export class RequestedObjectNotFoundError extends defineIpaError(E.RequestedObjectNotFoundError, NotFound) {
  constructor(typeDescription: string, id: string) {
    super(`${typeDescription} with id ${id} not found.`);
  }
}

export class AgentIsBusy extends defineIpaError(E.AgentIsBusy) {
  constructor(commandName: string) {
    super(`executing command ${commandName}`);
  }
}

/** The conductor could not be reached or did not return a usable node in time (IPA's name). */
export class LookupNodeError extends defineIpaError(E.LookupNodeError) {}

/** No address could be found to advertise in the callback URL. */
export class LookupAgentIPError extends defineIpaError(E.LookupAgentIPError) {}

export class HeartbeatError extends defineIpaError(E.HeartbeatError) {}

/** 409 from the conductor (node locked): retried soon, logged as a warning. */
export class HeartbeatConflictError extends defineIpaError(E.HeartbeatConflictError) {}

export class HeartbeatConnectionError extends defineIpaError(E.HeartbeatConnectionError) {}

export class SystemRebootError extends defineIpaError(E.SystemRebootError) {}

export { InvalidCommandParamsError } from '../hardware/errors.js';
