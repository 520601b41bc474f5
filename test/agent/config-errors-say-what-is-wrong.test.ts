// What an operator reads when the configuration is wrong: each bad key by name, with what was
// expected, in English (the schema is validated before anything else of zod is loaded, so
// these messages must not fall back to a bare "Invalid input").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromKernelParams } from '../../src/agent/config/kernel-cmdline.js';
import { mergeConfig } from '../../src/agent/config/load.js';
import type { AgentConfigInput } from '../../src/agent/config/schema.js';
import { REPO } from '../helpers/standalone-agent-process.js';

const invalid = (config: Record<string, unknown>) => () => mergeConfig({ file: config as Partial<AgentConfigInput> });

describe('configuration errors', () => {
  it('name every bad key and say what it should be', () => {
    expect(
      invalid({
        apiUrls: ['conductor 6385'],
        listenPort: 70000,
        advertisePort: 1.5,
        logLevel: 'loud',
        agentToken: '',
        ipLookupAttempts: 0,
        lookupTimeout: -1,
      }),
    ).toThrow(
      'invalid configuration: apiUrls.0: Invalid URL: expected http://... or https://...; agentToken: Too small: expected string to have >=1 characters; ' +
        'listenPort: Too big: expected number to be <=65535; advertisePort: Invalid input: expected int, received number; ' +
        'ipLookupAttempts: Too small: expected number to be >0; ' +
        'logLevel: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"; ' +
        'lookupTimeout: Too small: expected number to be >=0',
    );
  });

  it('a kernel parameter that is not a number says what it received', () => {
    expect(() => mergeConfig({ kernel: configFromKernelParams({ 'ipa-disk-wait-attempts': 'ten' }) })).toThrow(
      'invalid configuration: diskWaitAttempts: Invalid input: expected number, received string',
    );
  });

  it('an API URL must be http(s), as IPA requires', () => {
    expect(invalid({ apiUrls: ['ftp://conductor/'] })).toThrow(
      'invalid configuration: apiUrls.0: Invalid URL: expected http://... or https://...',
    );
    expect(mergeConfig({ file: { apiUrls: ['http://192.0.2.10:6385', 'https://[fd00::1]:6385'] } }).apiUrls).toHaveLength(2);
  });

  it('ipa-api-url=mdns is refused by name, saying what to give instead (no mDNS discovery here)', () => {
    const mdns = (value: string) => () => mergeConfig({ kernel: configFromKernelParams({ 'ipa-api-url': value }) });
    const message =
      'invalid configuration: apiUrls.0: ipa-api-url=mdns (finding the Ironic API by multicast DNS) is not supported ' +
      "by this agent: give the API's URL, e.g. ipa-api-url=http://192.0.2.10:6385 (or https://...)";
    expect(mdns('mdns')).toThrow(message);
    // Only that message: not also "Invalid URL".
    expect(mdns('mdns')).toThrow(/^[^;]*$/);
    expect(mdns('http://192.0.2.10:6385,mdns')).toThrow(message.replace('apiUrls.0', 'apiUrls.1'));
  });

  it('the agent started with ipa-api-url=mdns says so on its output and exits 2, as for any bad parameter', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-mdns-'));
    try {
      writeFileSync(join(dir, 'cmdline'), 'console=ttyS0 ipa-api-url=mdns BOOTIF=01-52-54-00-12-34-56\n');
      writeFileSync(join(dir, 'agent.json'), '{}');
      const result = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(REPO, 'src/cli.ts'),
          'agent',
          '--cmdline',
          join(dir, 'cmdline'),
          '--config',
          join(dir, 'agent.json'),
        ],
        { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
      );
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        'ramdisk-agent: invalid configuration: apiUrls.0: ipa-api-url=mdns (finding the Ironic API by multicast DNS) is not supported',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('defaults are fresh for each configuration (one agent changing a list does not change another)', () => {
    const first = mergeConfig({});
    first.allowDevices.push('/dev/loop0');
    expect(mergeConfig({}).allowDevices).toEqual([]);
  });
});
