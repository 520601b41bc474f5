/**
 * HTTP and HTTPS image bodies are read by the socket straight into the writer's buffers
 * (http-direct.ts). Against a real server on 127.0.0.1, plain and with a self-signed
 * certificate: every framing (Content-Length, chunked) arrives byte for byte, a slow writer
 * holds the download back instead of buffering it (over TLS too, whose socket still hands
 * over what it received after it is paused), and a cut or aborted body fails instead of
 * looking complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directGet, type BodyTarget, type DirectRequest } from '../../../src/hardware/image/http-direct.js';
import { ImageServer } from '../../helpers/image-server.js';
import { selfSignedCert } from '../../helpers/self-signed-cert.js';

const BODY = randomBytes(5 * 1024 * 1024 + 123);
let dir: string;
/** The same bytes as a file: served in 64 KiB pieces, so the throttle applies. */
let file: string;
const servers: Record<'http' | 'https', ImageServer> = {} as never;
let ca: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'http-direct-'));
  file = join(dir, 'body.bin');
  writeFileSync(file, BODY);
  const { key, cert } = selfSignedCert(dir);
  ca = readFileSync(cert);
  servers.http = await ImageServer.start();
  servers.https = await ImageServer.start({ key: readFileSync(key), cert: ca });
});
afterAll(async () => {
  await servers.http?.close();
  await servers.https?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Collects into slots of `slotBytes` as the image writer does: a full slot is "written"
 * (copied out) only after `delayMs` (backpressure), and until then it is still the slot
 * `space()` points into, so a reader that fills it while it waits corrupts what is written.
 */
function slowTarget(slotBytes: number, delayMs: number) {
  const done: Buffer[] = [];
  let slot = Buffer.alloc(slotBytes);
  let fill = 0;
  let waits = 0;
  const target: BodyTarget = {
    space: () => slot.subarray(fill),
    commit(bytes) {
      fill += bytes;
      if (fill < slot.length) return;
      const full = slot;
      fill = 0;
      waits++;
      return new Promise((resolve) =>
        setTimeout(() => {
          done.push(Buffer.from(full));
          slot = Buffer.alloc(slotBytes);
          resolve();
        }, delayMs),
      );
    },
  };
  return { target, bytes: () => Buffer.concat([...done, slot.subarray(0, fill)]), waits: () => waits };
}

describe.each(['http', 'https'] as const)('%s bodies read into the caller buffers', (scheme) => {
  const get = (request: Omit<DirectRequest, 'tls'>) => directGet({ ...request, tls: { ca } });
  let server: ImageServer;
  beforeAll(() => {
    server = servers[scheme];
  });

  it.each([
    ['Content-Length', {}],
    ['chunked', { chunked: true }],
  ])('a %s body arrives byte for byte through a writer that keeps the reader waiting', async (_name, options) => {
    const url = server.serveBuffer(`body-${_name}`, BODY, options);
    const response = await get({ url: new URL(url), headers: {}, stallMs: 10_000 });
    expect(response.statusCode).toBe(200);
    const sink = slowTarget(256 * 1024, 5);
    let reported = 0;
    await response.readInto(sink.target, (n) => (reported += n));
    expect(sink.waits()).toBeGreaterThan(10);
    expect(reported).toBe(BODY.length);
    expect(sink.bytes().equals(BODY)).toBe(true);
  });

  it('is also a stream: small bodies and error texts are read with for await', async () => {
    const url = server.serveBuffer('small-chunked', BODY.subarray(0, 200_000), { chunked: true });
    const response = await get({ url: new URL(url), headers: {}, stallMs: 10_000 });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(BODY.subarray(0, 200_000))).toBe(true);

    const missing = await get({ url: new URL(server.url('nothing-here')), headers: {}, stallMs: 10_000 });
    expect(missing.statusCode).toBe(404);
  });

  it('sends Range and the caller headers, and reads the 206 that answers them', async () => {
    const url = server.serveBuffer('ranged', BODY);
    const response = await get({
      url: new URL(url),
      headers: { range: 'bytes=1000-', authorization: 'Bearer abc' },
      stallMs: 10_000,
    });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes 1000-${BODY.length - 1}/${BODY.length}`);
    const sink = slowTarget(1024 * 1024, 0);
    await response.readInto(sink.target, () => undefined);
    expect(sink.bytes().equals(BODY.subarray(1000))).toBe(true);
    expect(server.requestsFor('ranged').at(-1)).toMatchObject({ range: 'bytes=1000-', authorization: 'Bearer abc' });
  });

  it('a body cut short fails, naming how much arrived', async () => {
    const url = server.serveBuffer('cut', BODY, { truncateAfter: 3_000_000 });
    const response = await get({ url: new URL(url), headers: {}, stallMs: 10_000 });
    const sink = slowTarget(1024 * 1024, 0);
    await expect(response.readInto(sink.target, () => undefined)).rejects.toThrow(
      `closed after 3000000 of ${BODY.length} body bytes`,
    );
  });

  it('an abort ends a body in the middle, and a stalled body ends after the stall limit', async () => {
    const slow = server.serveFile('slow', file, { bytesPerSecond: 1024 * 1024 });
    const controller = new AbortController();
    const response = await get({ url: new URL(slow), headers: {}, stallMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('agent shutting down')), 200);
    await expect(response.readInto(slowTarget(1024 * 1024, 0).target, () => undefined)).rejects.toThrow('agent shutting down');

    const stalled = server.serveFile('stalled', file, { bytesPerSecond: 10_000 });
    const tooSlow = await get({ url: new URL(stalled), headers: {}, stallMs: 300 });
    await expect(tooSlow.readInto(slowTarget(1024 * 1024, 0).target, () => undefined)).rejects.toThrow('no data for 0.3 s');
  });

  it('a header value with a line break is refused before anything is sent', () => {
    expect(() => get({ url: new URL(server.url('x')), headers: { authorization: 'a\r\nx-injected: 1' }, stallMs: 1000 })).toThrow(
      'invalid character in the authorization header',
    );
  });
});

it('an HTTPS server the CA bundle does not vouch for is refused before anything is read', async () => {
  const url = new URL(servers.https.serveBuffer('untrusted', BODY.subarray(0, 1000)));
  await expect(directGet({ url, headers: {}, stallMs: 10_000 })).rejects.toThrow(/self[- ]signed certificate/);
  expect(servers.https.requestsFor('untrusted')).toEqual([]);
});
