// What an operator reads when the configuration is wrong: each bad key by name, with what was
// expected, in English (the schema is validated before anything else of zod is loaded, so
// these messages must not fall back to a bare "Invalid input").
import { describe, expect, it } from 'vitest';
import { configFromKernelParams } from '../../src/agent/config/kernel-cmdline.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import type { AgentConfigInput } from '../../src/agent/config/schema.js';

const invalid = (config: Record<string, unknown>) => () => mergeConfig({ file: config as Partial<AgentConfigInput> });

describe('configuration errors', () => {
  it('name every bad key and say what it should be', () => {
    expect(
      invalid({
        apiUrls: ['conductor 6385'],
        listenPort: 70000,
        advertisePort: 1.5,
        logLevel: 'loud',
        ironicApiVersion: 'v1',
        agentToken: '',
        ipLookupAttempts: 0,
        lookupTimeout: -1,
      }),
    ).toThrow(
      'invalid configuration: apiUrls.0: Invalid URL; agentToken: Too small: expected string to have >=1 characters; ' +
        'listenPort: Too big: expected number to be <=65535; advertisePort: Invalid input: expected int, received number; ' +
        'ipLookupAttempts: Too small: expected number to be >0; ' +
        'logLevel: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"; ' +
        'ironicApiVersion: Invalid string: must match pattern /^\\d+\\.\\d+$/; lookupTimeout: Too small: expected number to be >=0',
    );
  });

  it('a kernel parameter that is not a number says what it received', () => {
    expect(() => mergeConfig({ kernel: configFromKernelParams({ 'ipa-disk-wait-attempts': 'ten' }) })).toThrow(
      'invalid configuration: diskWaitAttempts: Invalid input: expected number, received string',
    );
  });

  it('defaults are fresh for each configuration (one agent changing a list does not change another)', () => {
    const first = mergeConfig({});
    first.allowDevices.push('/dev/loop0');
    expect(mergeConfig({}).allowDevices).toEqual([]);
  });
});
