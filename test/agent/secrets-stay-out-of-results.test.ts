/**
 * What anyone may read without a token (a 2023.1 conductor reads results tokenless, so the
 * API leaves those reads open) carries no secret: the step echoed in a result and
 * `command_progress` have image URL credentials, Swift temp URL signatures and
 * `image_request_authorization` masked, and the config drive elided as IPA's `<...>`.
 * Results are bounded by bytes, not only by count.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandRunner } from '../../src/agent/command-runner.js';
import { defineCommand, defineExtension } from '../../src/agent/command.js';
import { redactText, redactValue } from '../../src/agent/redact.js';
import type { AgentServices } from '../../src/agent/services.js';
import { silentLogger } from '../../src/shared/logger.js';

const services = { log: silentLogger } as unknown as AgentServices;

const step = {
  interface: 'deploy',
  step: 'write_image',
  priority: 80,
  args: {
    image_info: {
      id: 'f3e1',
      urls: [
        'https://glance:s3cr3t-pass@images.example.org/v2/images/f3e1/file',
        'https://swift.example.org/v1/AUTH_x/glance/f3e1?temp_url_sig=9d3a0c1f2b&temp_url_expires=1700000000',
      ],
      image_request_authorization: 'Bearer gAAAAABlongkeystonetoken',
      os_hash_value: 'ab12',
    },
    configdrive: 'H4sI'.padEnd(1024 * 1024, 'A'),
  },
};

function runnerWith(progress: Record<string, unknown>) {
  const ext = defineExtension('deploy', [
    defineCommand({
      name: 'execute_deploy_step',
      mode: 'async',
      params: z.looseObject({ step: z.looseObject({}) }),
      run: async (params, ctx) => {
        ctx.progress.update(progress);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { deploy_result: null, deploy_step: params.step };
      },
    }),
  ]);
  return new CommandRunner([ext], services);
}

const SECRETS = ['s3cr3t-pass', '9d3a0c1f2b', 'gAAAAABlongkeystonetoken'];

describe('results and progress carry no secrets', () => {
  it('masks URL credentials, temp_url_sig and the request authorization, and elides the config drive', async () => {
    const runner = runnerWith({ stage: 'download', url: step.args.image_info.urls[1] });
    const result = await runner.execute('deploy.execute_deploy_step', { step });
    const whileRunning = runner.listJSON();
    await result.whenDone();
    const finished = runner.listJSON();
    for (const text of [whileRunning, finished]) {
      for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
    const echoed = JSON.parse(finished).commands[0].command_result.deploy_step;
    expect(echoed.step).toBe('write_image');
    expect(echoed.interface).toBe('deploy');
    expect(echoed.args.configdrive).toBe('<...>');
    expect(echoed.args.image_info.urls[0]).toBe('https://***@images.example.org/v2/images/f3e1/file');
    expect(echoed.args.image_info.urls[1]).toContain('temp_url_sig=***&temp_url_expires=1700000000');
    expect(echoed.args.image_info.image_request_authorization).toBe('***');
    expect(echoed.args.image_info.os_hash_value).toBe('ab12');
    expect(finished.length).toBeLessThan(4096);
  });

  it("masks a vendor step's secrets under oslo's other key names (passphrase, keyring, sslkey, ...) in the echoed step", async () => {
    const vendorStep = {
      interface: 'deploy',
      step: 'encrypt_root',
      priority: 0,
      args: {
        luks_passphrase: 'correct-horse-battery',
        ceph: { keyring: 'AQBf3kAAAAAAAAAAAAAAAAAAAAAAAAA', cephxkey: 'AQCcephxkeyvalue0000' },
        SslKey: '-----BEGIN PRIVATE KEY-----MIIEvQ',
        fernetkey: 'fernet-key-0123456789',
        pskkey: 'psk-0123456789abcdef',
        encrypted_key: 'ZW5jcnlwdGVkLWtleQ==',
        adminPass: 'admin-pass-value',
        cipher: 'aes-xts-plain64',
      },
    };
    const runner = runnerWith({});
    const result = await runner.execute('deploy.execute_deploy_step', { step: vendorStep });
    await result.whenDone();
    const listed = runner.listJSON();
    for (const secret of [
      'correct-horse-battery',
      'AQBf3kAAAAAAAAAAAAAAAAAAAAAAAAA',
      'AQCcephxkeyvalue0000',
      'MIIEvQ',
      'fernet-key-0123456789',
      'psk-0123456789abcdef',
      'ZW5jcnlwdGVkLWtleQ==',
      'admin-pass-value',
    ]) {
      expect(listed).not.toContain(secret);
    }
    const echoed = JSON.parse(listed).commands[0].command_result.deploy_step;
    expect(echoed.args.luks_passphrase).toBe('***');
    expect(echoed.args.ceph.keyring).toBe('***');
    // Not a secret: left as sent.
    expect(echoed.args.cipher).toBe('aes-xts-plain64');
  });

  it('keeps what the agent reports under a configdrive key: the partition it wrote, not the drive', () => {
    const uuids = { 'root uuid': '0x00000000', partitions: { 'efi system partition': '/dev/sda1', configdrive: '/dev/sda3' } };
    expect(redactValue(uuids)).toEqual(uuids);
    const written = { message: 'done', configdrive: { partition: '/dev/nvme0n1p4', reused: false } };
    expect(redactValue(written)).toEqual(written);
    expect(redactValue({ configdrive: 'https://cd.example.org/node.iso' })).toEqual({ configdrive: '<...>' });
  });

  it('keeps at most 32 MiB of finished results, however many large ones arrive', async () => {
    const ext = defineExtension('demo', [
      defineCommand({
        name: 'big',
        mode: 'sync',
        params: z.object({}),
        run: () => ({ blob: 'x'.repeat(1024 * 1024) }),
      }),
    ]);
    const runner = new CommandRunner([ext], services);
    for (let i = 0; i < 60; i++) await runner.execute('demo.big', {});
    const kept = runner.list();
    expect(kept.length).toBeLessThan(60);
    expect(kept.reduce((sum, r) => sum + r.toJSONBuffer().length, 0)).toBeLessThanOrEqual(32 * 1024 * 1024);
    // The last one, the only one Ironic reads, is always there.
    expect(kept.at(-1)!.status).toBe('SUCCEEDED');
  });
});

describe('free text', () => {
  it('masks the token in ps output and the kernel command line in dmesg', () => {
    const ps =
      'root  812  2.1  1.9 ... node /usr/lib/ramdisk-agent/ramdisk-agent.mjs agent --agent-token tok3n-value-123 --standalone';
    const dmesg =
      '[    0.000000] Command line: BOOT_IMAGE=/vmlinuz ipa-api-url=http://10.0.0.1:6385 ipa-agent-token=preshared-0123456789 nofb';
    const url = '10.0.0.1 - GET /v1/commands/?agent%5Ftoken=encoded-token-value&wait=true - 200 (1.0ms)';
    expect(redactText(ps)).toContain('--agent-token ***');
    expect(redactText(dmesg)).toContain('ipa-agent-token=*** nofb');
    expect(redactText(url)).toContain('agent%5Ftoken=***&wait=true');
    expect(redactText('held token abcdefgh-1234 appears here', ['abcdefgh-1234'])).toBe('held token *** appears here');
  });

  it('bounds results that finish later (async) by bytes too, and keeps at most 1000 results', async () => {
    const ext = defineExtension('demo', [
      defineCommand({
        name: 'big_later',
        mode: 'async',
        params: z.object({}),
        run: async () => {
          await new Promise((r) => setTimeout(r, 1));
          return { blob: 'x'.repeat(1024 * 1024) };
        },
      }),
      defineCommand({ name: 'small', mode: 'sync', params: z.object({}), run: () => 'ok' }),
    ]);
    const runner = new CommandRunner([ext], services);
    for (let i = 0; i < 40; i++) await (await runner.execute('demo.big_later', {})).whenDone();
    const bytes = () => runner.list().reduce((sum, r) => sum + r.toJSONBuffer().length, 0);
    expect(runner.list().length).toBeLessThan(40);
    expect(bytes()).toBeLessThanOrEqual(32 * 1024 * 1024);
    for (let i = 0; i < 1005; i++) await runner.execute('demo.small', {});
    expect(runner.list()).toHaveLength(1000);
    expect(runner.list().every((r) => r.name === 'small')).toBe(true);
  });
});
