/**
 * The address in the callback URL: the flag, else the interface's IPv4, else ours on the
 * lookup's connection, else the kernel's source address towards a conductor URL that answers;
 * LookupAgentIPError when none does.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackUrl, resolveAdvertiseHost } from '../../src/agent/heartbeat/advertise-address.js';
import { run } from '../../src/hardware/exec.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { runInPrivateNetwork } from '../helpers/private-network.js';

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

  it('an address whose route cannot be read does not hide the next one (IPA tries each)', async () => {
    // A second conductor URL on 127.0.0.2 that answers; `ip route get` towards it fails
    // (here: the route asked through a device that does not exist, as "Network is
    // unreachable" would for an IPv6 address of a dual-stack name).
    const second = createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => second.listen(0, '127.0.0.2', resolve));
    const secondUrl = `http://127.0.0.2:${(second.address() as { port: number }).port}`;
    const exec: typeof run = (file, args = [], opts) =>
      run(file, args.includes('127.0.0.2') ? [...args, 'oif', 'no-such-nic0'] : args, opts);
    try {
      expect(await resolveAdvertiseHost({ ...base, exec, apiUrls: [secondUrl, url] })).toBe('127.0.0.1');
    } finally {
      await new Promise<void>((resolve) => second.close(() => resolve()));
    }
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

describe('advertised address: our address on the lookup connection', () => {
  it('comes before the route sources of a name that resolves to IPv6 and IPv4 (conductor on IPv4 only)', async () => {
    // A namespace whose /etc/hosts gives conductor.test ::1 first, then 127.0.0.1; the
    // conductor listens on 127.0.0.1. The route source of the first address, ::1, is not one
    // the conductor can reach.
    const result = await runInPrivateNetwork('dual-stack-name.ts', { hosts: '::1 conductor.test\n127.0.0.1 conductor.test\n' });
    expect(result).toEqual({ status: 202, callbackHost: '127.0.0.1' });
  });

  it('comes after --network-interface, and a link-local one is skipped for the probe', async () => {
    expect(await resolveAdvertiseHost({ ...base, networkInterface: 'lo', lookupLocalAddress: '192.0.2.7', apiUrls: [url] })).toBe(
      '127.0.0.1',
    );
    expect(await resolveAdvertiseHost({ ...base, lookupLocalAddress: '::ffff:192.0.2.7', apiUrls: [url] })).toBe('192.0.2.7');
    expect(await resolveAdvertiseHost({ ...base, lookupLocalAddress: '169.254.3.4', apiUrls: [url] })).toBe('127.0.0.1');
  });
});
