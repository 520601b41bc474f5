/**
 * The address in the callback URL: the flag, else the interface's IPv4, else the kernel's
 * source address towards a conductor URL that answers; LookupAgentIPError when none does.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackUrl, resolveAdvertiseHost } from '../../src/agent/heartbeat/advertise-address.js';
import { run } from '../../src/hardware/exec.js';
import { silentLogger } from '../../src/hardware/logger.js';

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.statusCode = 404; // any HTTP answer means "reachable"
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const base = { attempts: 2, sleepSeconds: 0.01, exec: run, log: silentLogger };

describe('advertised address', () => {
  it('uses --advertise-host as given', async () => {
    expect(await resolveAdvertiseHost({ ...base, advertiseHost: '192.0.2.99', apiUrls: [url] })).toBe('192.0.2.99');
  });

  it('uses the IPv4 of --network-interface', async () => {
    expect(await resolveAdvertiseHost({ ...base, networkInterface: 'lo', apiUrls: [url] })).toBe('127.0.0.1');
  });

  it('takes the source address of the route to the first conductor URL that answers', async () => {
    expect(await resolveAdvertiseHost({ ...base, apiUrls: ['http://127.0.0.1:1', url] })).toBe('127.0.0.1');
  });

  it('fails with LookupAgentIPError when no conductor URL answers', async () => {
    await expect(resolveAdvertiseHost({ ...base, apiUrls: ['http://127.0.0.1:1'] })).rejects.toMatchObject({
      type: 'LookupAgentIPError',
    });
  });

  it('brackets IPv6 literals in the callback URL', () => {
    expect(callbackUrl('https', 'fd00::2', 9999)).toBe('https://[fd00::2]:9999');
    expect(callbackUrl('http', '192.0.2.2', 9999)).toBe('http://192.0.2.2:9999');
  });
});
