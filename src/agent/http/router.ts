/**
 * The agent's route table: a dozen fixed paths and one with a command id. A map lookup
 * decides every request; werkzeug's rules as IPA serves them: strict slashes (the
 * redirects are routes of their own), case-sensitive paths, HEAD wherever GET is served,
 * and 405 rather than 404 for a path that exists under another method.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';

/** A repeated parameter arrives as an array (the command routes refuse it, query.ts). */
export type Query = Readonly<Record<string, string | string[] | undefined>>;

/** What a route answers; the server adds the JSON content type when there is a body. */
export interface Reply {
  status: number;
  body?: string | Buffer | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
}

export interface RouteDefinition {
  method: 'GET' | 'POST';
  /** A fixed path, or one ending in `/:id` (one path segment). */
  path: string;
  /** Runs before the body is read: throws the fault that refuses the request. */
  guard?: ((request: AgentRequest) => void) | undefined;
  /** Only these routes read and parse a JSON body; every other body is left unread. */
  readsBody?: boolean | undefined;
  handler: (request: AgentRequest) => Reply | Promise<Reply>;
}

const NO_QUERY: Query = Object.freeze({});
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The path and query string of a request target, in origin form or absolute form (RFC 9112
 * §3.2.2: a server must accept `GET http://host/v1/status`), without a fragment. The path is
 * percent-decoded as werkzeug hands IPA its PATH_INFO (`/v1/%73tatus` is `/v1/status`);
 * decodeURI keeps `%2F` and the other reserved characters as they were.
 */
export function splitTarget(target: string): { path: string; search: string } {
  let rest = target;
  if (rest[0] !== '/') {
    try {
      const url = new URL(rest);
      rest = url.pathname + url.search;
    } catch {
      return { path: rest, search: '' };
    }
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  let path = question < 0 ? rest : rest.slice(0, question);
  if (path.includes('%')) {
    try {
      path = decodeURI(path);
    } catch {
      // Not valid percent-encoding: matched as sent, which finds no route (404).
    }
  }
  return { path, search: question < 0 ? '' : rest.slice(question) };
}

/** Never settles: a request made outside a server is never let go. */
const NEVER_RELEASED = (): Promise<void> => new Promise<void>(() => undefined);

export class AgentRequest {
  /** The parsed JSON body, on a route that reads one. */
  body: unknown = undefined;
  /** Read now: once the client is gone its socket no longer knows (the wrong-token limit counts by it). */
  readonly ip: string;
  #query: Query | undefined;

  constructor(
    readonly raw: IncomingMessage,
    /** Percent-decoded as werkzeug's PATH_INFO is (`%2F` kept). */
    readonly path: string,
    /** The query string with its `?`, or empty. */
    readonly search: string,
    readonly params: Readonly<Record<string, string>>,
    /**
     * Settles when waiting on for this request's answer is pointless: its client went away
     * or the server is closing. A long poll (`wait=true`) answers then with what it has.
     */
    readonly released: () => Promise<void> = NEVER_RELEASED,
  ) {
    this.ip = raw.socket.remoteAddress ?? '';
  }

  get method(): string {
    return this.raw.method ?? 'GET';
  }

  /** The request target as sent (the request log shows it, the token redacted). */
  get url(): string {
    return this.raw.url ?? '/';
  }

  /** Decoded on first use: names too (`agent%5Ftoken` is `agent_token`), `+` as a space. */
  get query(): Query {
    this.#query ??= this.search === '' ? NO_QUERY : (parseQueryString(this.search.slice(1)) as Query);
    return this.#query;
  }

  get protocol(): 'http' | 'https' {
    return (this.raw.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  }

  /** The Host header, which IPA's documents build their links from. */
  get host(): string {
    return this.raw.headers.host ?? `${this.raw.socket.localAddress ?? ''}:${this.raw.socket.localPort ?? ''}`;
  }
}

export type RouteMatch =
  | { kind: 'route'; route: RouteDefinition; params: Readonly<Record<string, string>> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

const ID_SUFFIX = '/:id';

export class Router {
  /** Every route, in the order added (the API description test reads them). */
  readonly routes: RouteDefinition[] = [];
  readonly #fixed = new Map<string, RouteDefinition>();
  readonly #withId = new Map<string, RouteDefinition>();
  readonly #fixedPaths = new Set<string>();
  readonly #idPrefixes = new Set<string>();

  add(route: RouteDefinition): void {
    this.routes.push(route);
    if (route.path.endsWith(ID_SUFFIX)) {
      const prefix = route.path.slice(0, -ID_SUFFIX.length + 1);
      this.#withId.set(`${route.method} ${prefix}`, route);
      this.#idPrefixes.add(prefix);
    } else {
      this.#fixed.set(`${route.method} ${route.path}`, route);
      this.#fixedPaths.add(route.path);
    }
  }

  /** `path` percent-decoded already (splitTarget in server.ts). */
  match(method: string, path: string): RouteMatch {
    const asMethod = method === 'HEAD' ? 'GET' : method;
    const fixed = this.#fixed.get(`${asMethod} ${path}`);
    if (fixed) return { kind: 'route', route: fixed, params: NO_PARAMS };
    const slash = path.lastIndexOf('/');
    const prefix = path.slice(0, slash + 1);
    const id = path.slice(slash + 1);
    if (id !== '' && this.#idPrefixes.has(prefix)) {
      const route = this.#withId.get(`${asMethod} ${prefix}`);
      return route ? { kind: 'route', route, params: { id } } : { kind: 'method-not-allowed' };
    }
    return this.#fixedPaths.has(path) ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  }
}
