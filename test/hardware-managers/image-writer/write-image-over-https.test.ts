/**
 * Images served over HTTPS: verified against the agent's CA bundle (`cafile`), refused
 * without it, accepted with `insecure`; and tunnelled with CONNECT through an HTTPS proxy.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpProxy } from '../../helpers/http-proxy.js';
import { ImageServer } from '../../helpers/image-server.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage, startImageAgent, type ImageAgent } from './harness.js';
import { buildMbrImage, readRange, type TestImage } from './test-images.js';

describe.skipIf(!canUseLoopDevices())('write_image over HTTPS', () => {
  const scratch = new ScratchDevices();
  let server: ImageServer;
  let image: TestImage;
  let device: ScratchDevice;
  let cafile: string;
  let url: string;
  let harness: ImageAgent | undefined;

  beforeAll(async () => {
    const key = join(scratch.dir, 'key.pem');
    cafile = join(scratch.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cafile,
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = await ImageServer.start({ key: readFileSync(key), cert: readFileSync(cafile) });
    image = buildMbrImage(scratch.dir, 8, false);
    url = server.serveFile('secure.raw', image.path);
    device = scratch.create({ sizeMiB: 4608 });
  });
  afterEach(async () => {
    await harness?.agent.close();
    harness = undefined;
  });
  afterAll(async () => {
    await server.close();
    scratch.cleanup();
  });

  const written = () => readRange(device.path, 0, image.sizeBytes).equals(readRange(image.path, 0, image.sizeBytes));

  it('verifies the server against cafile', async () => {
    harness = await startImageAgent([device.path], { cafile });
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toBe(true);
  });

  it('refuses a server it cannot verify, and accepts it with insecure', async () => {
    harness = await startImageAgent([device.path], { imageDownloadConnectionRetries: 0 });
    const refused = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(refused.status).toBe('FAILED');
    expect(refused.body.command_error.type).toBe('ImageDownloadError');
    expect(refused.body.command_error.details).toMatch(/self[- ]signed certificate/i);
    await harness.agent.close();

    harness = await startImageAgent([device.path], { insecure: true });
    const accepted = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(accepted.status, JSON.stringify(accepted.body.command_error)).toBe('SUCCEEDED');
  });

  it('tunnels HTTPS through the proxy with CONNECT', async () => {
    const proxy = await HttpProxy.start();
    try {
      harness = await startImageAgent([device.path], { cafile });
      const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256, { proxies: { https: proxy.url } }));
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${new URL(url).port}`]);
      expect(written()).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
