// Configuration: kernel command line parsing as IPA reads it, flags, and the precedence
// defaults < config file < kernel command line < flags.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentFlags, parseListen } from '../../src/agent/config/flags.js';
import { configFromKernelParams, parseKernelCmdline } from '../../src/agent/config/kernel-cmdline.js';
import { loadAgentConfig, mergeConfig } from '../../src/agent/config/load.js';

// A PXE boot line as an Ironic deployment renders it.
const PXE_CMDLINE =
  'BOOT_IMAGE=/deploy_kernel nofb nomodeset vga=normal console=ttyS0,115200n8 ipa-api-url=http://192.0.2.1:6385/ ' +
  'ipa-insecure=1 ipa-debug=1 ipa-lookup-timeout=300 ipa-advertise-port=9998 ipa-global-request-id=req-abc ' +
  'BOOTIF=01-52-54-00-12-34-56 boot_method=vmedia rootfstype=ramfs quiet -- --init-arg=1';

describe('kernel command line', () => {
  it('splits key=value tokens, keeps flags, honours quotes, stops at --', () => {
    const params = parseKernelCmdline('a=1 flag b="two words" c=x=y -- d=ignored\n');
    expect(params).toEqual({ a: '1', flag: '', b: 'two words', c: 'x=y' });
  });

  it('maps ipa-* parameters onto typed config keys', () => {
    const config = configFromKernelParams(parseKernelCmdline(PXE_CMDLINE));
    expect(config).toEqual({
      apiUrls: ['http://192.0.2.1:6385'],
      insecure: true,
      logLevel: 'debug',
      lookupTimeout: 300,
      advertisePort: 9998,
      globalRequestId: 'req-abc',
      bootif: '01-52-54-00-12-34-56',
    });
  });

  it('several API URLs are comma-separated; booleans read like oslo (yes/on/1/true)', () => {
    const config = configFromKernelParams({ 'ipa-api-url': 'http://a:6385,http://b:6385/', 'ipa-insecure': 'off' });
    expect(config.apiUrls).toEqual(['http://a:6385', 'http://b:6385']);
    expect(config.insecure).toBe(false);
    expect(configFromKernelParams({ 'ipa-insecure': 'Yes' }).insecure).toBe(true);
  });

  it('grub for BIOS stays off unless ipa-enable-bios-bootloader-install says otherwise (IPA: off by default)', () => {
    expect(mergeConfig({}).enableBiosBootloaderInstall).toBe(false);
    const config = mergeConfig({ kernel: configFromKernelParams({ 'ipa-enable-bios-bootloader-install': '1' }) });
    expect(config.enableBiosBootloaderInstall).toBe(true);
  });

  it('a non-numeric value is reported by name when validated', () => {
    expect(() => mergeConfig({ kernel: configFromKernelParams({ 'ipa-listen-port': 'ninety' }) })).toThrow(
      /invalid configuration: listenPort: /,
    );
  });
});

describe('flags', () => {
  it('parses the documented flags; repeatable ones accumulate', () => {
    const flags = parseAgentFlags([
      '--listen',
      '127.0.0.1:9999',
      '--api-url',
      'http://a:6385/',
      '--api-url',
      'http://b:6385',
      '--allow-device',
      '/dev/loop0',
      '--allow-device',
      '/dev/loop1',
      '--hardware-manager-path',
      '/opt/vendor',
      '--power-actions',
      'simulate',
      '--standalone',
      '--agent-token',
      'tok',
      '--log-level',
      'debug',
      '--cmdline',
      '/tmp/cmdline',
    ]);
    expect(flags.config).toEqual({
      listenHost: '127.0.0.1',
      listenPort: 9999,
      apiUrls: ['http://a:6385', 'http://b:6385'],
      allowDevices: ['/dev/loop0', '/dev/loop1'],
      hardwareManagerPaths: ['/opt/vendor'],
      powerActions: 'simulate',
      standalone: true,
      agentToken: 'tok',
      logLevel: 'debug',
    });
    expect(flags.cmdlineFile).toBe('/tmp/cmdline');
  });

  it('accepts IPv6 and port-only listen addresses, refuses garbage', () => {
    expect(parseListen('[::1]:9999')).toEqual({ host: '::1', port: 9999 });
    expect(parseListen(':8080')).toEqual({ port: 8080 });
    expect(parseListen('8080')).toEqual({ port: 8080 });
    expect(() => parseListen('localhost')).toThrow(/HOST:PORT/);
  });

  it('an unknown flag is an error naming it', () => {
    expect(() => parseAgentFlags(['--frobnicate'])).toThrow(/frobnicate/);
  });
});

describe('precedence', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  /** A folder for this test's files, removed after it. */
  const scratchDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-config-'));
    dirs.push(dir);
    return dir;
  };

  it('defaults < config file < kernel command line < flags', async () => {
    const dir = scratchDir();
    const configFile = join(dir, 'agent.json');
    const cmdlineFile = join(dir, 'cmdline');
    writeFileSync(configFile, JSON.stringify({ listenPort: 1111, lookupTimeout: 42, insecure: true, advertiseHost: '10.0.0.9' }));
    writeFileSync(cmdlineFile, 'ipa-listen-port=2222 ipa-lookup-timeout=77 ipa-api-url=http://k:6385\n');
    const config = await loadAgentConfig({
      config: { listenPort: 3333 },
      configFile,
      cmdlineFile,
      help: false,
    });
    expect(config.listenPort).toBe(3333); // flag
    expect(config.lookupTimeout).toBe(77); // kernel over file
    expect(config.apiUrls).toEqual(['http://k:6385']); // kernel
    expect(config.insecure).toBe(true); // file
    expect(config.advertiseHost).toBe('10.0.0.9'); // file
    expect(config.httpRequestTimeout).toBe(30); // default
    expect(config.listenHost).toBeUndefined(); // the wildcard IPv6 allows, chosen at start
  });

  it('a named config file that does not exist or is not JSON is a clear error', async () => {
    await expect(loadAgentConfig({ config: {}, configFile: '/nonexistent.json', help: false })).rejects.toThrow(
      /cannot read config file \/nonexistent.json/,
    );
    const dir = scratchDir();
    writeFileSync(join(dir, 'bad.json'), '{nope');
    await expect(loadAgentConfig({ config: {}, configFile: join(dir, 'bad.json'), help: false })).rejects.toThrow(/is not valid/);
  });

  it('the config file takes the documented snake_case keys (camelCase too)', async () => {
    const dir = scratchDir();
    const configFile = join(dir, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ hardware_manager_paths: ['/opt/acme'], listenPort: 1234 }));
    const config = await loadAgentConfig({ config: {}, configFile, cmdlineFile: '/dev/null', help: false });
    expect(config.hardwareManagerPaths).toEqual(['/opt/acme']);
    expect(config.listenPort).toBe(1234);
  });

  it('an unknown key in the config file is an error naming it, not silence', async () => {
    const dir = scratchDir();
    const configFile = join(dir, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ hardware_manager_path: ['/opt/acme'] }));
    await expect(loadAgentConfig({ config: {}, configFile, cmdlineFile: '/dev/null', help: false })).rejects.toThrow(
      /unknown key "hardware_manager_path"; known keys: .*hardware_manager_paths/,
    );
  });
});
