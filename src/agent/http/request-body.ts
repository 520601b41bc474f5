/**
 * How request bodies are read: only on the routes that take one (the command POST), after
 * the token was checked (a route's guard runs before the body is touched), within a limit sized
 * to the largest real request, and parsed only when that cannot hold the event loop for
 * long. Every other route — 404s, redirects, PUT/DELETE/OPTIONS, reads — never reads or
 * parses its body: a stranger's 100 MiB `[{},{},…]` costs the agent nothing but the bytes
 * Node discards after the answer.
 */
import type { IncomingMessage } from 'node:http';
import { Faults, HttpFault } from './fault.js';
import { parseJsonBytes } from './large-json.js';

/**
 * The largest real request is a `write_image` deploy step with an inline config drive: IPA
 * caps the config drive partition at 64 MiB, which gzip+base64 carries in at most
 * 64 MiB × 4/3 ≈ 85.4 MiB, and Ironic sends it three times (the step's `configdrive` and
 * `image_info.configdrive`, and the node's `instance_info.configdrive`, unmasked), plus the
 * node, ports and image_info (small). IPA reads any size; a limit of one copy failed every
 * deploy with a config drive past ~30 MiB of base64 (413, AgentAPIError). The body is read
 * only after the token was checked.
 */
const COMMAND_BODY_LIMIT_BYTES = 272 * 1024 * 1024;

/**
 * JSON.parse time grows with the number of objects and arrays, not bytes: 16 MiB of
 * `[{},{},…]` took 16 s under the ramdisk's small young generation, while an 85 MiB config
 * drive (one string) parses in a fraction of a second. A real command carries a node, its
 * ports and a few steps: hundreds of containers, not a hundred thousand.
 */
const MAX_JSON_CONTAINERS = 100_000;

/** Bodies declared at least this long are read into one buffer of their length. */
const PREALLOCATED_FROM_BYTES = 64 * 1024;

/** How long the rest of an unread body is drained (discarded) before the connection is cut. */
const UNREAD_BODY_GRACE_MS = 1_000;

function declaresBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
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

function parseJsonBody(bytes: Buffer | undefined): unknown {
  if (!bytes) return undefined;
  if (tooManyContainers(bytes, MAX_JSON_CONTAINERS)) {
    throw Faults.undecodableJson(`more than ${MAX_JSON_CONTAINERS} objects and arrays`);
  }
  try {
    return parseJsonBytes(bytes);
  } catch (error) {
    // A blank body is no document: undefined, as before (checked only here, where it costs
    // nothing on the way of a good body).
    if (bytes.toString('utf8').trim() === '') return undefined;
    throw Faults.undecodableJson((error as Error).message);
  }
}

/**
 * A body's bytes as they arrive: straight into one buffer of the declared Content-Length, or,
 * chunked, as chunks joined at the end. With a length, the chunks are not held until a join
 * copies them (twice the body at the end). The buffer is allocated at once but its pages are
 * only touched as bytes arrive, so a client that declares much and sends little costs what it
 * sent (Node's HTTP parser never passes on more than the declared length).
 */
class BodyBytes {
  #whole: Buffer | undefined;
  #chunks: Buffer[] = [];
  size = 0;

  constructor(declaredLength: number) {
    // A command's usual few hundred bytes arrive in one chunk, joined from Node's buffer pool.
    if (Number.isSafeInteger(declaredLength) && declaredLength >= PREALLOCATED_FROM_BYTES) {
      this.#whole = Buffer.allocUnsafeSlow(declaredLength);
    }
  }

  add(chunk: Buffer): void {
    if (this.#whole && this.size + chunk.length > this.#whole.length) {
      this.#chunks.push(this.#whole.subarray(0, this.size)); // more than declared: joined at the end
      this.#whole = undefined;
    }
    if (this.#whole) chunk.copy(this.#whole, this.size);
    else this.#chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Nothing of a refused body stays in memory. */
  drop(): void {
    this.#whole = undefined;
    this.#chunks = [];
  }

  /** All the bytes, once (undefined when there were none). */
  take(): Buffer | undefined {
    const bytes = this.#whole
      ? this.#whole.subarray(0, this.size)
      : this.size > 0
        ? Buffer.concat(this.#chunks, this.size)
        : undefined;
    this.drop();
    return bytes;
  }
}

/**
 * A body left unread (a route that takes none, a wrong token, too large) is answered at once;
 * Node discards what is still arriving for at most a second, then the connection is cut, so
 * a large body costs neither parsing nor the time to receive it. Not `Connection: close`:
 * closing the socket while the client is still sending resets the connection, and the
 * client may lose the answer (EPIPE) before it reads it.
 */
export function cutOffUnreadBody(request: IncomingMessage): void {
  // Ended: read to its end by readJsonBody, or already discarded by Node.
  if (!declaresBody(request) || request.readableEnded) return;
  const socket = request.socket;
  const timer = setTimeout(() => socket.destroy(), UNREAD_BODY_GRACE_MS);
  timer.unref();
  // Once Node has discarded the rest, the connection is whole again: a keep-alive client
  // (a conductor's pool) goes on using it. Both listeners go with the timer, or a client
  // pipelining bodies nobody reads would pile up one per request on its socket.
  const discarded = () => {
    clearTimeout(timer);
    request.off('end', discarded);
    socket.off('close', discarded);
  };
  request.once('end', discarded);
  socket.once('close', discarded);
}

/** The JSON body whatever the Content-Type (IPA's `get_json(force=True)`); undefined when empty. */
export function readJsonBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (declared > COMMAND_BODY_LIMIT_BYTES) {
      reject(bodyTooLarge());
      return;
    }
    const body = new BodyBytes(declared);
    let finished = false;
    const finish = (error: Error | null, value?: unknown) => {
      if (finished) return;
      finished = true;
      if (error) reject(error);
      else resolve(value);
    };
    request.on('data', (chunk: Buffer) => {
      if (body.size + chunk.length > COMMAND_BODY_LIMIT_BYTES) {
        request.removeAllListeners('data');
        body.drop();
        finish(bodyTooLarge());
        return;
      }
      body.add(chunk);
    });
    request.on('error', (error) => finish(new HttpFault(400, `The request body could not be read: ${error.message}`)));
    request.on('end', () => {
      if (finished) return;
      try {
        finish(null, parseJsonBody(body.take()));
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}
