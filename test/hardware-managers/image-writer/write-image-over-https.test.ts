/**
 * Images served over HTTPS: verified against the agent's CA bundle (`cafile`), refused
 * without it, accepted with `insecure`; and tunnelled with CONNECT through an HTTPS proxy.
 * The body is read off the TLS socket straight into the writer's buffers, also when the
 * disk is slower than the network (every buffer in flight while TLS still delivers) and
 * when the image ends part-way into a buffer and a sector.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { HttpProxy } from '../../helpers/http-proxy.js';
import { ImageServer } from '../../helpers/image-server.js';
import { selfSignedCert } from '../../helpers/self-signed-cert.js';
import { canUseLoopDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { canThrottleWrites, throttleWrites } from '../../helpers/throttled-device.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, readRange, sha256Of, type TestImage } from './test-images.js';

const it = imageWriterTest.extend<{
  tls: { key: string; cafile: string };
  server: ImageServer;
  image: TestImage;
  /** 24 MiB + 1 MiB + 12,345 bytes: ends inside a 2 MiB buffer and inside a 4 KiB sector. */
  oddImage: TestImage;
  url: string;
  device: ScratchDevice;
  written: () => boolean;
}>({
  // A self-signed certificate for 127.0.0.1: its own CA bundle.
  tls: [
    async ({ scratch }, use) => {
      const { key, cert: cafile } = selfSignedCert(scratch.dir);
      await use({ key, cafile });
    },
    { scope: 'file' },
  ],
  // The lab's image server, over HTTPS.
  server: [
    async ({ tls }, use) => {
      const server = await ImageServer.start({ key: readFileSync(tls.key), cert: readFileSync(tls.cafile) });
      await use(server);
      await server.close();
    },
    { scope: 'file' },
  ],
  image: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir, 8, false)), { scope: 'file' }],
  oddImage: [
    async ({ scratch }, use) => {
      const built = buildMbrImage(scratch.dir, 24, true);
      const path = built.path.replace(/\.raw$/, '-odd.raw');
      copyFileSync(built.path, path);
      appendFileSync(path, randomBytes(1024 * 1024 + 12_345));
      const sizeBytes = built.sizeBytes + 1024 * 1024 + 12_345;
      await use({ ...built, path, sizeBytes, dataEnd: sizeBytes, sha256: sha256Of(path) });
    },
    { scope: 'file' },
  ],
  url: [async ({ server, image }, use) => use(server.serveFile('secure.raw', image.path)), { scope: 'file' }],
  device: [async ({ scratch }, use) => use(scratch.create({ sizeMiB: 4608 })), { scope: 'file' }],
  written: async ({ device, image }, use) =>
    use(() => readRange(device.path, 0, image.sizeBytes).equals(readRange(image.path, 0, image.sizeBytes))),
});

describe.skipIf(!canUseLoopDevices())('write_image over HTTPS', () => {
  it('verifies the server against cafile', async ({ tls: { cafile }, url, image, device, written, startAgent }) => {
    const harness = await startAgent([device.path], { cafile });
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toBe(true);
  });

  it('refuses a server it cannot verify, and accepts it with insecure', async ({ url, image, device, startAgent }) => {
    let harness = await startAgent([device.path], { imageDownloadConnectionRetries: 0 });
    const refused = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(refused.status).toBe('FAILED');
    expect(refused.body.command_error.type).toBe('ImageDownloadError');
    expect(refused.body.command_error.details).toMatch(/self[- ]signed certificate/i);
    await harness.agent.close();

    harness = await startAgent([device.path], { insecure: true });
    const accepted = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(accepted.status, JSON.stringify(accepted.body.command_error)).toBe('SUCCEEDED');
  });

  it('tunnels HTTPS through the proxy with CONNECT', async ({ tls: { cafile }, url, image, device, written, startAgent }) => {
    const proxy = await HttpProxy.start();
    try {
      const harness = await startAgent([device.path], { cafile });
      const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256, { proxies: { https: proxy.url } }));
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      expect(proxy.seen).toEqual([`CONNECT 127.0.0.1:${new URL(url).port}`]);
      expect(written()).toBe(true);
    } finally {
      await proxy.close();
    }
  });
  it('writes an image that ends inside a buffer: checksum verified, the device holds its bytes', async ({
    tls: { cafile },
    server,
    oddImage,
    disks,
    startAgent,
  }) => {
    const device = disks.create({ sizeMiB: 4608 });
    const harness = await startAgent([device.path], { cafile });
    const url = server.serveFile('odd.raw', oddImage.path);
    const outcome = await runWriteImage(harness.client, imageInfo(url, oddImage.sha256));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(outcome.body.command_result.deploy_result.bytes_downloaded).toBe(oddImage.sizeBytes);
    expect(readRange(device.path, 0, oddImage.sizeBytes).equals(readRange(oddImage.path, 0, oddImage.sizeBytes))).toBe(true);
  });

  it.skipIf(!canThrottleWrites())(
    'writes the right bytes when the disk is slower than the TLS connection',
    async ({ tls: { cafile }, server, oddImage, disks, startAgent }) => {
      const device = disks.create({ sizeMiB: 4608 });
      const harness = await startAgent([device.path], { cafile });
      const url = server.serveFile('odd-slow.raw', oddImage.path);
      // About 25 MiB at 12 MiB/s: every buffer is in flight most of the time while TLS
      // keeps handing over the records it already received.
      const throttle = throttleWrites(device, 12 * 1024 * 1024);
      let outcome;
      try {
        outcome = await runWriteImage(harness.client, imageInfo(url, oddImage.sha256));
      } finally {
        throttle.release();
      }
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      expect(outcome.body.command_result.deploy_result.download).toEqual({ requests: 1, resumes: 0, rounds: 1 });
      expect(readRange(device.path, 0, oddImage.sizeBytes).equals(readRange(oddImage.path, 0, oddImage.sizeBytes))).toBe(true);
    },
  );
});
