/**
 * IPA's HTTP error body, `{"faultcode": "Client"|"Server", "faultstring": "..."}`, rendered
 * here and nowhere else. Command-layer errors carry IPA's text (`Agent is busy: ...`);
 * routing errors carry werkzeug's (`404 Not Found: ...`), since that is what IPA answers.
 */
import { STATUS_CODES } from 'node:http';
import { isIpaError } from '../../hardware/errors.js';

export class HttpFault extends Error {
  readonly statusCode: number;
  /** Headers the answer carries besides the fault body. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  constructor(statusCode: number, description: string, headers?: Readonly<Record<string, string>>) {
    super(`${statusCode} ${STATUS_CODES[statusCode] ?? 'Error'}: ${description}`);
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

export const Faults = {
  tokenInvalid: () => new HttpFault(401, 'Token invalid.'),
  // Every further guess then costs the client a new connection.
  tooManyTokenFailures: () =>
    new HttpFault(429, 'Too many requests with an invalid token; try again later.', {
      'retry-after': '1',
      connection: 'close',
    }),
  badCommandBody: () => new HttpFault(400, 'Missing or invalid name or params'),
  notFound: () =>
    new HttpFault(
      404,
      'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
    ),
  methodNotAllowed: () => new HttpFault(405, 'The method is not allowed for the requested URL.'),
  undecodableJson: (reason: string) => new HttpFault(400, `Failed to decode JSON object: ${reason}`),
  // What werkzeug answers when a request cannot be read at all.
  unreadableRequest: () => new HttpFault(400, 'The browser (or proxy) sent a request that this server could not understand.'),
  requestTimeout: () =>
    new HttpFault(
      408,
      "The server closed the network connection because the browser didn't finish the request within the specified time.",
    ),
  headersTooLarge: () => new HttpFault(431, 'One or more header fields exceeds the maximum size.'),
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
  } else {
    faultstring = `500 Internal Server Error: ${error instanceof Error ? error.message : String(error)}`;
  }
  return { status, body: { faultcode: status >= 500 ? 'Server' : 'Client', faultstring } };
}
