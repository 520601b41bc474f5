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
  /** A fixed path, or one ending in `/:id` (one path segment, percent-decoded). */
  path: string;
  /** Runs before the body is read: throws the fault that refuses the request. */
  guard?: ((request: AgentRequest) => void) | undefined;
  /** Only these routes read and parse a JSON body; every other body is left unread. */
  readsBody?: boolean | undefined;
  handler: (request: AgentRequest) => Reply | Promise<Reply>;
}

const NO_QUERY: Query = Object.freeze({});
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export class AgentRequest {
  /** The parsed JSON body, on a route that reads one. */
  body: unknown = undefined;
  #query: Query | undefined;

  constructor(
    readonly raw: IncomingMessage,
    /** The request target as sent: path and query string. */
    readonly url: string,
    readonly path: string,
    readonly params: Readonly<Record<string, string>>,
  ) {}

  get method(): string {
    return this.raw.method ?? 'GET';
  }

  /** Decoded on first use: names too (`agent%5Ftoken` is `agent_token`), `+` as a space. */
  get query(): Query {
    if (this.#query === undefined) {
      const question = this.url.indexOf('?');
      this.#query = question < 0 ? NO_QUERY : (parseQueryString(this.url.slice(question + 1)) as Query);
    }
    return this.#query;
  }

  get ip(): string {
    return this.raw.socket.remoteAddress ?? '';
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

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

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

  match(method: string, path: string): RouteMatch {
    const asMethod = method === 'HEAD' ? 'GET' : method;
    const fixed = this.#fixed.get(`${asMethod} ${path}`);
    if (fixed) return { kind: 'route', route: fixed, params: NO_PARAMS };
    const slash = path.lastIndexOf('/');
    const prefix = path.slice(0, slash + 1);
    const id = path.slice(slash + 1);
    if (id !== '' && this.#idPrefixes.has(prefix)) {
      const route = this.#withId.get(`${asMethod} ${prefix}`);
      return route ? { kind: 'route', route, params: { id: decodeSegment(id) } } : { kind: 'method-not-allowed' };
    }
    return this.#fixedPaths.has(path) ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  }
}
