/**
 * The agent's log (stdout, hence the console and the journal, and the bundle's
 * ramdisk-agent.log) carries no secret from an image URL, however it got into a line: the
 * failed download's own warnings, the error's message and stack, the config drive fetch's
 * error; nor a secret-looking field of an object a hardware manager logs. The lines stay: the
 * operator still sees which URL failed, with the secret masked.
 */
import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactText } from '../../src/agent/redact.js';
import { AgentTestClient, startTestAgent } from '../helpers/agent.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from '../hardware-managers/image-writer/harness.js';

const SECRETS = {
  password: 'Gl4nceUserPassw0rd',
  swift: '5b2f0d6e1c9a8b7f',
  s3: 'aa11bb22cc33dd44ee55',
  configdrive: 'C0nfigDrivePassw0rd',
};

let server: Server;
let port: number;

beforeAll(async () => {
  // Every request fails with a 503: the agent retries, then fails the step.
  server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end('unavailable');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function untar(archive: Buffer): string {
  return gunzipSync(archive).toString('latin1');
}

describe.skipIf(!canUseLoopDevices())('log lines', () => {
  it('mask URL credentials, temp_url_sig and S3 signatures in a failed download, its error and a config drive fetch', async () => {
    const scratch = new ScratchDevices();
    try {
      const disk = scratch.create({ sizeMiB: 4608 });
      const lines: string[] = [];
      const stream = new PassThrough();
      stream.on('data', (chunk) => lines.push(String(chunk)));
      const agent = await startTestAgent(
        { allowDevices: [disk.path], imageDownloadConnectionRetries: 1, imageDownloadConnectionRetryInterval: 0.05 },
        { logLevel: 'debug', logStream: stream },
      );
      try {
        const client = new AgentTestClient(agent.url);
        const url =
          `http://glance:${SECRETS.password}@127.0.0.1:${port}/v1/AUTH_x/glance/img` +
          `?temp_url_sig=${SECRETS.swift}&temp_url_expires=1700000000&X-Amz-Signature=${SECRETS.s3}`;
        const image = await runWriteImage(client, imageInfo(url, 'a'.repeat(64)));
        expect(image.body.command_error.type).toBe('ImageDownloadError');
        const drive = await runWriteImage(client, imageInfo(`http://127.0.0.1:${port}/img.raw`, 'a'.repeat(64)), {
          configdrive: `http://nova:${SECRETS.configdrive}@127.0.0.1:${port}/cd.iso`,
        });
        expect(drive.status).toBe('FAILED');

        const bundle = await client.post('log.collect_system_logs', {}, true);
        const ownLog = untar(Buffer.from(bundle.body.command_result.system_logs, 'base64'));
        const stdout = lines.join('');
        for (const text of [stdout, ownLog]) {
          for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
        }
        // The lines are there, each still a JSON object, naming the URL with the secrets masked.
        const warnings = stdout
          .split('\n')
          .filter((line) => line.includes('image download attempt failed'))
          .map((line) => JSON.parse(line) as { url: string });
        expect(warnings.length).toBeGreaterThan(0);
        expect(warnings[0]!.url).toBe(
          `http://***@127.0.0.1:${port}/v1/AUTH_x/glance/img?temp_url_sig=***&temp_url_expires=1700000000&X-Amz-Signature=***`,
        );
        expect(stdout).toContain(`http://***@127.0.0.1:${port}/cd.iso`);
      } finally {
        await agent.close();
      }
    } finally {
      scratch.cleanup();
    }
  }, 120_000);
});

describe('a hardware manager logging an object', () => {
  it('gets secret-looking string fields masked in the line, on stdout and in the bundle; other fields stay', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => lines.push(String(chunk)));
    const agent = await startTestAgent({}, { logLevel: 'info', logStream: stream });
    try {
      // The logger a manager's ctx.log is a child of.
      agent.services.log.info(
        {
          node: { driver_info: { ipmi_password: 'Ipmi-Passw0rd-1', ipmi_address: '10.0.0.9' } },
          luks_passphrase: 'luks "quoted" pass',
        },
        'settings as received',
      );
      const bundle = await new AgentTestClient(agent.url).post('log.collect_system_logs', {}, true);
      const ownLog = untar(Buffer.from(bundle.body.command_result.system_logs, 'base64'));
      const stdout = lines.join('');
      for (const text of [stdout, ownLog]) {
        expect(text).not.toContain('Ipmi-Passw0rd-1');
        expect(text).not.toContain('quoted');
      }
      const line = JSON.parse(stdout.split('\n').find((l) => l.includes('settings as received'))!);
      expect(line.node.driver_info).toEqual({ ipmi_password: '***', ipmi_address: '10.0.0.9' });
      expect(line.luks_passphrase).toBe('***');
    } finally {
      await agent.close();
    }
  });
});

describe('free text in JSON', () => {
  it('masks credentials only up to the end of the URL: a later field with an "@" is left alone', () => {
    const line = '{"url":"http://10.0.0.1:6385","owner":"root@example.org"}';
    expect(redactText(line)).toBe(line);
  });
});
