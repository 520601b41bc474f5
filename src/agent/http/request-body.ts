/**
 * How request bodies are read: only on the routes that take one (the command POST), after
 * the token was checked (onRequest runs before the body is touched), within a limit sized
 * to the largest real request, and parsed only when that cannot hold the event loop for
 * long. Every other route — 404s, redirects, PUT/DELETE/OPTIONS, reads — never reads or
 * parses its body: a stranger's 100 MiB `[{},{},…]` costs the agent nothing but the bytes
 * Node discards after the answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Faults, HttpFault } from './fault.js';

/**
 * The largest real request is a `write_image` (deploy step, or `standby.prepare_image`) with
 * an inline config drive: IPA caps the config drive partition at 64 MiB, which gzip+base64
 * carries in at most 64 MiB × 4/3 ≈ 85.4 MiB, plus the node, ports and image_info (small).
 */
export const COMMAND_BODY_LIMIT_BYTES = 90 * 1024 * 1024;

/**
 * JSON.parse time grows with the number of objects and arrays, not bytes: 16 MiB of
 * `[{},{},…]` took 16 s under the ramdisk's small young generation, while an 85 MiB config
 * drive (one string) parses in a fraction of a second. A real command carries a node, its
 * ports and a few steps: hundreds of containers, not a hundred thousand.
 */
const MAX_JSON_CONTAINERS = 100_000;

/** Route option: this route reads a JSON body. Every other route ignores the body unread. */
export interface BodyRouteConfig {
  readsBody?: boolean;
}

/** How long the rest of an unread body is drained (discarded) before the connection is cut. */
const UNREAD_BODY_GRACE_MS = 1_000;

/** Requests whose body was read to its end by the parser below. */
const bodiesRead = new WeakSet<object>();

function declaresBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

function readsBody(request: FastifyRequest): boolean {
  return (request.routeOptions.config as BodyRouteConfig | undefined)?.readsBody === true;
}

/** Counts `{` and `[` bytes (native memchr via indexOf), stopping past the limit. */
function tooManyContainers(body: Buffer, limit: number): boolean {
  let count = 0;
  for (const byte of [0x7b, 0x5b]) {
    let at = body.indexOf(byte);
    while (at !== -1) {
      if (++count > limit) return true;
      at = body.indexOf(byte, at + 1);
    }
  }
  return false;
}

function bodyTooLarge(): HttpFault {
  return new HttpFault(413, `The request body is larger than ${COMMAND_BODY_LIMIT_BYTES} bytes.`);
}

function parseJsonBody(body: Buffer): unknown {
  if (tooManyContainers(body, MAX_JSON_CONTAINERS)) {
    throw Faults.undecodableJson(`more than ${MAX_JSON_CONTAINERS} objects and arrays`);
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw Faults.undecodableJson((error as Error).message);
  }
}

/**
 * A body left unread (a route that takes none, a wrong token, too large) is answered at once
 * with `Connection: close`;
 * what is still arriving is discarded for at most a second, then the connection is cut, so
 * a large body costs neither parsing nor the time to receive it.
 */
function closeAfterUnreadBody(app: FastifyInstance): void {
  // A callback hook, not an async one: no promise and microtask hop on every answer.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (declaresBody(request) && !bodiesRead.has(request.raw)) {
      const socket = request.raw.socket;
      const timer = setTimeout(() => socket.destroy(), UNREAD_BODY_GRACE_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    done(null, payload);
  });
}

/** JSON whatever the Content-Type (IPA's `get_json(force=True)`), on the routes that read bodies. */
export function installBodyParser(app: FastifyInstance): void {
  closeAfterUnreadBody(app);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    if (!readsBody(request)) {
      done(null, undefined);
      return;
    }
    const declared = Number(request.headers['content-length']);
    if (declared > COMMAND_BODY_LIMIT_BYTES) {
      done(bodyTooLarge(), undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (error: Error | null, value?: unknown) => {
      if (finished) return;
      finished = true;
      done(error, value);
    };
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > COMMAND_BODY_LIMIT_BYTES) {
        payload.removeAllListeners('data');
        finish(bodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    payload.on('error', (error) => finish(new HttpFault(400, `The request body could not be read: ${error.message}`)));
    payload.on('end', () => {
      bodiesRead.add(request.raw);
      try {
        finish(null, parseJsonBody(Buffer.concat(chunks, size)));
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}
