/**
 * IPA's HTTP error body, `{"faultcode": "Client"|"Server", "faultstring": "..."}`, rendered
 * here and nowhere else. Command-layer errors carry IPA's text (`Agent is busy: ...`);
 * routing errors carry werkzeug's (`404 Not Found: ...`), since that is what IPA answers.
 */
import { STATUS_CODES } from 'node:http';
import { isIpaError } from '../../hardware/errors.js';

export class HttpFault extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, description: string) {
    super(`${statusCode} ${STATUS_CODES[statusCode] ?? 'Error'}: ${description}`);
    this.statusCode = statusCode;
  }
}

export const Faults = {
  tokenInvalid: () => new HttpFault(401, 'Token invalid.'),
  tooManyTokenFailures: () => new HttpFault(429, 'Too many requests with an invalid token; try again later.'),
  badCommandBody: () => new HttpFault(400, 'Missing or invalid name or params'),
  notFound: () =>
    new HttpFault(
      404,
      'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
    ),
  methodNotAllowed: () => new HttpFault(405, 'The method is not allowed for the requested URL.'),
  undecodableJson: (reason: string) => new HttpFault(400, `Failed to decode JSON object: ${reason}`),
};

export interface FaultBody {
  faultcode: 'Client' | 'Server';
  faultstring: string;
}

export function renderFault(error: unknown): { status: number; body: FaultBody } {
  let status = 500;
  let faultstring: string;
  if (error instanceof HttpFault) {
    status = error.statusCode;
    faultstring = error.message;
  } else if (isIpaError(error)) {
    status = error.code >= 400 && error.code < 600 ? error.code : 500;
    faultstring = error.message;
  } else if (error instanceof Error && typeof (error as { statusCode?: unknown }).statusCode === 'number') {
    // fastify's own errors (body too large, bad content length, ...).
    status = (error as unknown as { statusCode: number }).statusCode;
    faultstring = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${error.message}`;
  } else {
    faultstring = `500 Internal Server Error: ${error instanceof Error ? error.message : String(error)}`;
  }
  return { status, body: { faultcode: status >= 500 ? 'Server' : 'Client', faultstring } };
}
