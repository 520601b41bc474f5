/** `no_proxy` as requests reads it: hosts, domain suffixes, host:port, `*`. */
import { describe, expect, it } from 'vitest';
import { bypassesProxy } from '../../../src/hardware/image/http-transport.js';

describe('no_proxy', () => {
  it.each([
    ['http://images.example.com/a.raw', 'example.com', true],
    ['http://images.example.com/a.raw', '.example.com', true],
    ['http://example.com/a.raw', '.example.com', true],
    ['http://badexample.com/a.raw', 'example.com', false],
    ['http://10.0.0.5:8080/a.raw', '10.0.0.5:8080', true],
    ['http://10.0.0.5:8080/a.raw', '10.0.0.5:9090', false],
    ['https://10.0.0.5/a.raw', '10.0.0.5:443', true],
    ['http://[fd00::1]/a.raw', 'fd00::1', true],
    ['http://anything/a.raw', ' other , * ', true],
    ['http://anything/a.raw', '', false],
  ])('%s with no_proxy=%j bypasses the proxy: %s', (url, noProxy, expected) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
  });
});
