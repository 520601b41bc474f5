/**
 * Errors raised by the agent's command layer, with IPA's names, messages and codes
 * (reference §2.5). Rendering them as HTTP responses happens once, in `http/fault.ts`.
 */
import { IpaError } from '../hardware/errors.js';

export class InvalidContentError extends IpaError {
  constructor(details: string, summary = 'Invalid request body') {
    super(summary, details, 400);
  }
}

export class InvalidCommandError extends InvalidContentError {
  constructor(details: string) {
    super(details, 'Invalid command');
  }
}

export class NotFound extends IpaError {
  constructor(details = 'The requested URL was not found.') {
    super('Not found', details, 404);
  }
}

export class RequestedObjectNotFoundError extends NotFound {
  constructor(typeDescription: string, id: string) {
    super(`${typeDescription} with id ${id} not found.`);
  }
}

export class AgentIsBusy extends IpaError {
  constructor(commandName: string) {
    super('Agent is busy', `executing command ${commandName}`, 409);
  }
}

export { InvalidCommandParamsError, CommandExecutionError } from '../hardware/errors.js';
