/**
 * Plain-HTTP image bodies are read by the socket straight into the writer's buffers
 * (http-direct.ts). Against a real server on 127.0.0.1: every framing (Content-Length,
 * chunked) arrives byte for byte, a slow writer holds the download back instead of
 * buffering it, and a cut or aborted body fails instead of looking complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directGet, type BodyTarget } from '../../../src/hardware/image/http-direct.js';
import { ImageServer } from '../../helpers/image-server.js';

const BODY = randomBytes(5 * 1024 * 1024 + 123);
let server: ImageServer;
let dir: string;
/** The same bytes as a file: served in 64 KiB pieces, so the throttle applies. */
let file: string;

beforeAll(async () => {
  server = await ImageServer.start();
  dir = mkdtempSync(join(tmpdir(), 'http-direct-'));
  file = join(dir, 'body.bin');
  writeFileSync(file, BODY);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Collects into slots of `slotBytes`; a full slot is "written" after `delayMs` (backpressure). */
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
      done.push(slot);
      slot = Buffer.alloc(slotBytes);
      fill = 0;
      waits++;
      return new Promise((resolve) => setTimeout(resolve, delayMs));
    },
  };
  return { target, bytes: () => Buffer.concat([...done, slot.subarray(0, fill)]), waits: () => waits };
}

describe('plain-HTTP bodies read into the caller buffers', () => {
  it.each([
    ['Content-Length', {}],
    ['chunked', { chunked: true }],
  ])('a %s body arrives byte for byte through a writer that keeps the reader waiting', async (_name, options) => {
    const url = server.serveBuffer(`body-${_name}`, BODY, options);
    const response = await directGet({ url: new URL(url), headers: {}, stallMs: 10_000 });
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
    const response = await directGet({ url: new URL(url), headers: {}, stallMs: 10_000 });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(BODY.subarray(0, 200_000))).toBe(true);

    const missing = await directGet({ url: new URL(server.url('nothing-here')), headers: {}, stallMs: 10_000 });
    expect(missing.statusCode).toBe(404);
  });

  it('sends Range and the caller headers, and reads the 206 that answers them', async () => {
    const url = server.serveBuffer('ranged', BODY);
    const response = await directGet({
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
    const response = await directGet({ url: new URL(url), headers: {}, stallMs: 10_000 });
    const sink = slowTarget(1024 * 1024, 0);
    await expect(response.readInto(sink.target, () => undefined)).rejects.toThrow(
      `closed after 3000000 of ${BODY.length} body bytes`,
    );
  });

  it('an abort ends a body in the middle, and a stalled body ends after the stall limit', async () => {
    const slow = server.serveFile('slow', file, { bytesPerSecond: 1024 * 1024 });
    const controller = new AbortController();
    const response = await directGet({ url: new URL(slow), headers: {}, stallMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('agent shutting down')), 200);
    await expect(response.readInto(slowTarget(1024 * 1024, 0).target, () => undefined)).rejects.toThrow(
      'agent shutting down',
    );

    const stalled = server.serveFile('stalled', file, { bytesPerSecond: 10_000 });
    const tooSlow = await directGet({ url: new URL(stalled), headers: {}, stallMs: 300 });
    await expect(tooSlow.readInto(slowTarget(1024 * 1024, 0).target, () => undefined)).rejects.toThrow('no data for 0.3 s');
  });

  it('a header value with a line break is refused before anything is sent', () => {
    expect(() =>
      directGet({ url: new URL(server.url('x')), headers: { authorization: 'a\r\nx-injected: 1' }, stallMs: 1000 }),
    ).toThrow('invalid character in the authorization header');
  });
});
